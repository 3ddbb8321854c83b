"""The database tables of the transcript store, as SQLAlchemy 2 typed ORM models.

The schema itself is owned by the Alembic migrations in `review/migrations`; these models must match them
(`tests/review/test_migrations.py` checks that). All times are stored as naive UTC, see `UTCDateTime`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, naive UTC in the column.

    SQLite has no time zones and PostgreSQL's `timestamptz` answers in the session's zone; storing naive UTC
    on both makes comparisons, retention cut-offs and exports behave the same everywhere.
    A naive datetime handed in is taken to be UTC already.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(64))
    caller_number: Mapped[str | None] = mapped_column(String(64))  # only with the caller's consent
    language: Mapped[str | None] = mapped_column(String(8))
    # Every language a turn was answered in, comma-separated and in order of first use ("de,en").
    languages: Mapped[str] = mapped_column(String(128), default="")

    turns: Mapped[list[Turn]] = relationship(
        back_populates="call", order_by="Turn.index", cascade="all, delete-orphan", passive_deletes=True
    )
    statuses: Mapped[list[CallStatus]] = relationship(
        order_by="CallStatus.at", cascade="all, delete-orphan", passive_deletes=True
    )


class Turn(Base):
    __tablename__ = "turns"
    __table_args__ = (UniqueConstraint("call_id", "index", name="uq_turns_call_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    transcript: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    detected_language: Mapped[str | None] = mapped_column(String(8))
    language_confidence: Mapped[float | None] = mapped_column(Float)
    action: Mapped[str] = mapped_column(String(16))
    answer: Mapped[str] = mapped_column(Text)
    topic: Mapped[str | None] = mapped_column(String(128))
    sources: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    intent: Mapped[str | None] = mapped_column(String(64))
    unanswered: Mapped[bool] = mapped_column(Boolean, default=False)
    barge_in: Mapped[bool] = mapped_column(Boolean, default=False)
    # How the answer's speaking ended (played, barged_in, hung_up, failed); NULL while it is still spoken.
    ending: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    timings_ms: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Copied out of timings_ms so the dashboard need not parse JSON per row in SQL.
    voice_to_voice_ms: Mapped[float | None] = mapped_column(Float)

    call: Mapped[Call] = relationship(back_populates="turns")
    flags: Mapped[list[Flag]] = relationship(
        back_populates="turn", order_by="Flag.created_at", cascade="all, delete-orphan", passive_deletes=True
    )


class CallStatus(Base):
    """A telephony status event (ringing, in-progress, completed...) in the order it arrived."""

    __tablename__ = "call_statuses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # review.store.record_key: a status replayed after an outage is not stored twice.
    key: Mapped[str | None] = mapped_column(String(40), index=True, unique=True)


class Callback(Base):
    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(8))
    question: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    number: Mapped[str | None] = mapped_column(String(64))  # consented, stored as given
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by: Mapped[str | None] = mapped_column(String(100))
    key: Mapped[str | None] = mapped_column(String(40), index=True, unique=True)  # review.store.record_key


class Flag(Base):
    """A staff member's note that an answer was wrong."""

    __tablename__ = "flags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"), index=True)
    user: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    turn: Mapped[Turn] = relationship(back_populates="flags")


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StaffLogin(Base):
    """A staff member's logged-in session; the cookie holds the token, the table only its sha256."""

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    lang: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    user: Mapped[StaffUser] = relationship()


class LoginFailure(Base):
    """A failed login: the name tried (folded to lower case) and the address it came from."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_name_at", "name", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class ReviewSecret(Base):
    """Secrets every instance must share (the login form's cookie key), made once by whoever starts first."""

    __tablename__ = "review_secrets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))


class TransferQuestion(Base):
    """What a caller put through to staff had come with, until the transfer's outcome is known.

    Twilio reports that outcome to any instance; the one that takes the caller back offers the callback with it.
    """

    __tablename__ = "transfer_questions"

    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
