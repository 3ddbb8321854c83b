"""Nothing lost, nothing doubled: how a turn's speaking ended, and keys that make replayed writes idempotent.

Revision ID: 0004_turn_ending
Revises: 0003_shared_state
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_turn_ending"
down_revision: str | None = "0003_shared_state"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("turns", sa.Column("ending", sa.String(16), nullable=True))
    # Rows from before have no key; NULLs never collide in a unique index (SQLite and PostgreSQL alike).
    op.add_column("call_statuses", sa.Column("key", sa.String(40), nullable=True))
    op.create_index("ix_call_statuses_key", "call_statuses", ["key"], unique=True)
    op.add_column("callbacks", sa.Column("key", sa.String(40), nullable=True))
    op.create_index("ix_callbacks_key", "callbacks", ["key"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_callbacks_key", table_name="callbacks")
    with op.batch_alter_table("callbacks") as batch:
        batch.drop_column("key")
    op.drop_index("ix_call_statuses_key", table_name="call_statuses")
    with op.batch_alter_table("call_statuses") as batch:
        batch.drop_column("key")
    with op.batch_alter_table("turns") as batch:
        batch.drop_column("ending")
