"""Connecting to the transcript database and bringing its schema up to date.

SQLite (the default, a file in the data folder) and PostgreSQL (`postgresql+psycopg://...`) are supported.
"""

from __future__ import annotations

import logging
import unicodedata
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.types import Text

log = logging.getLogger("hotline.review")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant works; it only has to be the same for every process that migrates this schema.
_PG_MIGRATION_LOCK = 0x7265766965770001


class DatabaseUnavailable(Exception):
    """The transcript database cannot be reached or opened; the message names the URL and what to do."""


def masked(url: str) -> str:
    """The URL with its password replaced by ***, fit for logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def connect(url: str) -> Engine:
    """An engine for `url`, checked to be reachable, with the SQLite folder created when needed."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUnavailable(
            f"{url!r} is not a database URL; use sqlite:///path/to/hotline.db or "
            "postgresql+psycopg://user:password@host/dbname (storage.database_url or DATABASE_URL)"
        ) from None
    # hide_parameters: a failed statement's error (logged, shown in a traceback) must not carry the transcript,
    # name or number it was writing.
    options: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    if parsed.get_backend_name() == "postgresql":
        options["connect_args"] = {"connect_timeout": 10}
    try:
        engine = create_engine(parsed, **options)
    except Exception as exc:  # a missing driver or bad option: say which URL and why
        raise DatabaseUnavailable(f"cannot use the transcript database {masked(url)}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnavailable(
            f"cannot reach the transcript database at {masked(url)}: {reason}. "
            "Check that the database server is running and that storage.database_url (or DATABASE_URL) "
            "points at it, with the right user and password."
        ) from None
    return engine


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to `revision` (idempotent: at head already, nothing happens)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two processes starting at once must not both create the tables; released at commit.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def alembic_config(url: str) -> Config:
    """An Alembic configuration built in code: no alembic.ini to ship or find."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser treats % as interpolation; passwords may contain it.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")  # off by default in SQLite; our deletes cascade
    cursor.execute("PRAGMA busy_timeout=5000")  # the server and `hotline call` may write at once
    # WAL lets the review UI read while a call writes. NORMAL syncs at checkpoints, not every commit: a
    # committed turn survives a crash of the process (it is in the WAL), only a power cut may lose the last.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    dbapi_connection.create_function("unicode_lower", 1, fold_text, deterministic=True)


def fold_text(value: str | None) -> str | None:
    """What `fold` does in SQL, in Python: NFC and Unicode lower case (as PostgreSQL's lower())."""
    # SQLite's own lower() knows only ASCII; staff search for "Ärztin" as well as "ärztin".
    return None if value is None else unicodedata.normalize("NFC", value).lower()


class fold(GenericFunction[str]):  # lower case like the SQL functions it stands for
    """Case-insensitive comparison form of a text column: unicode_lower() on SQLite, lower() elsewhere."""

    type = Text()
    inherit_cache = True


@compiles(fold)
def _fold_default(element: fold, compiler: Any, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(fold, "sqlite")
def _fold_sqlite(element: fold, compiler: Any, **kw: Any) -> str:
    return f"unicode_lower({compiler.process(element.clauses, **kw)})"
