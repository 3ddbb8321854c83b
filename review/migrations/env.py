"""Alembic environment for the transcript store.

`review.database.migrate` runs this in process with its own connection (passed in `config.attributes`).
For manual work (a new revision, an offline SQL script) build the configuration the same way:
`alembic.command.revision(review.database.alembic_config(url), "message")`; `-x url=...` overrides the URL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine
from sqlalchemy.pool import NullPool

from review.models import Base

# Our own version table, so the store can share a database with other Alembic-managed schemas.
VERSION_TABLE = "review_alembic_version"

config = context.config


def _url() -> str:
    return context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=Base.metadata, version_table=VERSION_TABLE,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = create_engine(_url(), poolclass=NullPool)
    with engine.connect() as own:
        _configure(own)


if context.is_offline_mode():
    run_offline()
else:
    run_online()
