"""Schema migrations: an empty database, a database already at head, and one at the first revision."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from review.database import DatabaseUnavailable, alembic_config, connect
from review.models import Base
from review.store import TranscriptStore
from tests.review.postgres import free_port

VERSION_TABLE = "review_alembic_version"


def head() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() or ""


def version_of(url: str) -> str:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as db:
        version = db.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one()
    engine.dispose()
    return version


def test_an_empty_database_is_migrated_to_head_at_start_up(database_url: str) -> None:
    store = TranscriptStore(database_url)
    tables = set(inspect(store.engine).get_table_names())
    assert {"calls", "turns", "call_statuses", "callbacks", "flags", "staff_users", "staff_sessions",
            "login_failures", "review_secrets", "transfer_questions", VERSION_TABLE} <= tables
    assert version_of(database_url) == head() == "0004_turn_ending"
    store.close()


def test_starting_twice_on_a_database_at_head_changes_nothing(database_url: str) -> None:
    first = TranscriptStore(database_url)
    first.add_user("anna", "correct horse battery")
    first.close()
    second = TranscriptStore(database_url)
    assert second.verify_user("anna", "correct horse battery")
    assert version_of(database_url) == head()
    second.close()


def test_the_models_match_what_the_migrations_create(database_url: str) -> None:
    store = TranscriptStore(database_url)
    with store.engine.connect() as db:
        context = MigrationContext.configure(db, opts={"version_table": VERSION_TABLE})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    store.close()


def test_a_database_at_revision_0001_with_calls_upgrades_cleanly(database_url: str) -> None:
    engine = connect(database_url)
    config = alembic_config(database_url)
    with engine.begin() as db:
        config.attributes["connection"] = db
        command.upgrade(config, "0001")
    at = datetime(2026, 10, 1, 9, 30)
    with engine.begin() as db:
        db.execute(text("INSERT INTO calls (id, channel, started_at, languages) VALUES ('old-1', 'phone', :at, 'de')"),
                   {"at": at})
        db.execute(text(
            "INSERT INTO turns (call_id, \"index\", at, transcript, language, action, answer, sources, confidence, "
            "unanswered, barge_in, timings_ms) VALUES ('old-1', 0, :at, 'Wo ist das Bürgeramt?', 'de', 'answer', "
            "'Im Rathaus.', '[]', 0.9, false, false, '{\"voice_to_voice\": 800}')"), {"at": at})
    engine.dispose()
    assert version_of(database_url) == "0001"

    store = TranscriptStore(database_url)
    assert version_of(database_url) == head()
    detail = store.get_call("old-1")
    assert detail is not None and detail.turns[0].answer == "Im Rathaus."
    assert detail.turns[0].timings_ms == {"voice_to_voice": 800}
    store.flag_turn(detail.turns[0].id, "anna", "Rathaus ist umgezogen")  # a table added by 0002
    assert store.list_flags()[0].call_id == "old-1"
    store.close()


def test_migrations_can_be_undone_to_an_empty_schema(database_url: str) -> None:
    TranscriptStore(database_url).close()
    engine = create_engine(database_url, poolclass=NullPool)
    config = alembic_config(database_url)
    with engine.begin() as db:
        config.attributes["connection"] = db
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {VERSION_TABLE}
    engine.dispose()


def test_the_sqlite_folder_is_created(tmp_path: Path) -> None:
    store = TranscriptStore(f"sqlite:///{tmp_path / 'new' / 'deeper' / 'hotline.db'}")
    assert (tmp_path / "new" / "deeper" / "hotline.db").exists()
    store.close()


def test_an_unreachable_database_names_the_url_without_its_password_and_what_to_do() -> None:
    url = f"postgresql+psycopg://hotline:s3cret-pw@127.0.0.1:{free_port()}/transcripts"
    with pytest.raises(DatabaseUnavailable) as caught:
        TranscriptStore(url)
    message = str(caught.value)
    assert "s3cret-pw" not in message
    assert f"postgresql+psycopg://hotline:***@127.0.0.1:{url.split(':')[3].split('/')[0]}/transcripts" in message
    assert "DATABASE_URL" in message and "running" in message


def test_a_malformed_database_url_says_what_a_good_one_looks_like() -> None:
    with pytest.raises(DatabaseUnavailable, match="sqlite:///"):
        TranscriptStore("not a url")


def test_four_stores_starting_at_once_on_an_empty_postgresql_database_all_come_up(postgres_server) -> None:
    """Several instances started together: the advisory lock lets one migrate while the others wait."""
    from concurrent.futures import ThreadPoolExecutor

    url = postgres_server.empty_database_url()
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: TranscriptStore(url), range(4)))
    assert version_of(url) == head()
    stores[0].add_user("anna", "correct horse battery")
    assert all(store.list_users() == ["anna"] for store in stores)
    for store in stores:
        store.close()
