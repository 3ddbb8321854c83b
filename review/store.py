"""The transcript store: every call and turn written as it happens, and the queries the review UI needs.

>>> store = TranscriptStore("sqlite:///data/hotline.db")          # doctest: +SKIP
>>> store.start_call(CallRecord("c1", "cli", started_at))        # doctest: +SKIP
>>> store.add_turn("c1", turn)                                   # committed before this returns

Each write is its own transaction and idempotent (see `TranscriptSink`): `review.journal` replays writes made
while the database was away, and a replay must not duplicate anything.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from pipeline.records import CallbackRequest, CallRecord, TurnRecord
from review import export, queries
from review.accounts import StaffAccounts
from review.database import connect, masked, migrate
from review.gaps import DEFAULT_THRESHOLD, GapGroup, GapQuestion, group_questions
from review.models import Call, Callback, CallStatus, Flag, TransferQuestion, Turn
from review.queries import CallbackView, CallDetail, CallFilters, CallSummary, FlagView
from review.redaction import redact
from review.stats import DashboardStats, build_stats, period

if TYPE_CHECKING:
    from review.config import ReviewSettings

log = logging.getLogger("hotline.review")

UNKNOWN_CHANNEL = "unknown"


def record_key(call_id: str, kind: str, at: datetime, *fields: str | None) -> str:
    """A stable key for a status or callback: the same record, written twice, gets the same key."""
    moment = at.astimezone(UTC).isoformat() if at.tzinfo else at.isoformat()
    text = "\x1f".join([call_id, kind, moment, *("" if f is None else f for f in fields)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


class TranscriptStore:
    """Implements `pipeline.records.TranscriptSink` on SQLite or PostgreSQL; migrates the schema on start."""

    def __init__(self, database_url: str, redact_contacts: bool = True, *, timezone: str = "Europe/Berlin",
                 password_hasher: PasswordHasher | None = None):
        self.url = masked(database_url)
        self.redact_contacts = redact_contacts
        self.timezone = ZoneInfo(timezone)
        self.engine = connect(database_url)
        migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # argon2id with argon2-cffi's current defaults
        self.accounts = StaffAccounts(self._sessions, password_hasher or PasswordHasher())

    @classmethod
    def from_settings(cls, settings: ReviewSettings) -> TranscriptStore:
        return cls(settings.database_url, settings.storage.redact_contacts,
                   timezone=settings.opening_hours.timezone)

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"TranscriptStore({self.url!r})"

    def _clean(self, text: str) -> str:
        return redact(text) if self.redact_contacts else text

    # --- TranscriptSink ------------------------------------------------------------------------------

    def start_call(self, call: CallRecord) -> None:
        with self._sessions.begin() as session:
            row = session.get(Call, call.call_id)
            if row is None:
                session.add(Call(id=call.call_id, channel=call.channel, started_at=call.started_at,
                                 caller_number=call.caller_number, language=call.language, languages=""))
                return
            # Already there: a turn arrived first, or the pipeline retried. Fill in what we now know.
            row.channel, row.started_at = call.channel, min(row.started_at, call.started_at)
            row.caller_number = call.caller_number or row.caller_number
            row.language = call.language or row.language

    def add_turn(self, call_id: str, turn: TurnRecord) -> None:
        with self._sessions.begin() as session:
            call = self._call_for_write(session, call_id, turn.at)
            row = session.scalar(select(Turn).where(Turn.call_id == call_id, Turn.index == turn.index))
            if row is None:
                row = Turn(call_id=call_id, index=turn.index)
                session.add(row)
            row.at, row.language, row.action = turn.at, turn.language, turn.action
            row.transcript, row.answer = self._clean(turn.transcript), self._clean(turn.answer)
            row.detected_language, row.language_confidence = turn.detected_language, turn.language_confidence
            row.topic, row.confidence, row.intent = turn.topic, turn.confidence, turn.intent
            row.sources = [{"title": s.title, "url": s.url} for s in turn.sources]
            row.unanswered, row.barge_in, row.ending = turn.unanswered, turn.barge_in, turn.ending
            row.error = self._clean(turn.error) if turn.error else None
            row.timings_ms = {k: float(v) for k, v in turn.timings_ms.items()}
            row.voice_to_voice_ms = row.timings_ms.get("voice_to_voice")
            spoken = [lang for lang in call.languages.split(",") if lang]
            if turn.language not in spoken:
                call.languages = ",".join([*spoken, turn.language])
            call.language = call.language or turn.language

    def end_call(self, call_id: str, ended_at: datetime, outcome: str) -> None:
        with self._sessions.begin() as session:
            call = self._call_for_write(session, call_id, ended_at)
            call.ended_at, call.outcome = ended_at, outcome

    def add_callback(self, request: CallbackRequest) -> int:
        key = record_key(request.call_id, "callback", request.created_at, request.language, request.question,
                         request.number, request.name, request.email)
        try:
            with self._sessions.begin() as session:
                known = session.scalar(select(Callback.id).where(Callback.key == key))
                if known is not None:
                    return known
                self._call_for_write(session, request.call_id, request.created_at)
                # The number, name and e-mail were given for the callback, with consent: stored as given.
                row = Callback(call_id=request.call_id, language=request.language,
                               question=self._clean(request.question), created_at=request.created_at,
                               number=request.number, name=request.name, email=request.email, key=key)
                session.add(row)
                session.flush()
                return row.id
        except IntegrityError:  # the same request written at the same moment by another writer
            with self._sessions() as session:
                known = session.scalar(select(Callback.id).where(Callback.key == key))
            if known is None:
                raise
            return known

    def add_status(self, call_id: str, status: str, at: datetime) -> None:
        key = record_key(call_id, "status", at, status)
        try:
            with self._sessions.begin() as session:
                if session.scalar(select(CallStatus.id).where(CallStatus.key == key)) is not None:
                    return
                self._call_for_write(session, call_id, at)
                session.add(CallStatus(call_id=call_id, status=status, at=at, key=key))
        except IntegrityError:
            with self._sessions() as session:
                if session.scalar(select(CallStatus.id).where(CallStatus.key == key)) is None:
                    raise

    def forget_transcript(self, call_id: str) -> None:
        with self._sessions.begin() as session:
            turns = select(Turn.id).where(Turn.call_id == call_id).scalar_subquery()
            session.execute(delete(Flag).where(Flag.turn_id.in_(turns)))
            session.execute(delete(Turn).where(Turn.call_id == call_id))
            call = session.get(Call, call_id)
            if call is not None:
                call.languages = ""

    def _call_for_write(self, session: Session, call_id: str, at: datetime) -> Call:
        call = session.get(Call, call_id)
        if call is None:
            # start_call was lost or has not arrived yet; keeping the turn matters more than its context.
            log.warning("call %s: record written before start_call; created it", call_id)
            call = Call(id=call_id, channel=UNKNOWN_CHANNEL, started_at=at, languages="")
            session.add(call)
            session.flush()
        return call

    # --- Queries for the review UI --------------------------------------------------------------------

    def list_calls(self, filters: CallFilters | None = None, *, limit: int = 50,
                   offset: int = 0) -> list[CallSummary]:
        with self._sessions() as session:
            statement = queries.filtered_calls(filters, self.timezone).limit(limit).offset(offset)
            return queries.call_summaries(session, list(session.scalars(statement)))

    def count_calls(self, filters: CallFilters | None = None) -> int:
        with self._sessions() as session:
            return queries.count_calls(session, filters, self.timezone)

    def has_call(self, call_id: str) -> bool:
        """Whether a call with this id was recorded (by any instance): a voice webhook for it is a replay."""
        with self._sessions() as session:
            return session.get(Call, call_id) is not None

    def get_call(self, call_id: str) -> CallDetail | None:
        with self._sessions() as session:
            return queries.call_detail(session, call_id)

    def flag_turn(self, turn_id: int, user: str, note: str, at: datetime | None = None) -> int:
        """Mark an answer as wrong; raise LookupError when the turn does not exist (any more)."""
        with self._sessions.begin() as session:
            if session.get(Turn, turn_id) is None:
                raise LookupError(f"turn {turn_id} does not exist")
            flag = Flag(turn_id=turn_id, user=user, note=note.strip(), created_at=at or datetime.now(UTC))
            session.add(flag)
            session.flush()
            return flag.id

    def list_flags(self, limit: int = 500) -> list[FlagView]:
        with self._sessions() as session:
            rows = session.scalars(
                select(Flag).options(selectinload(Flag.turn)).order_by(Flag.created_at.desc()).limit(limit)
            )
            return [queries.flag_view(flag, flag.turn) for flag in rows]

    def list_callbacks(self, done: bool = False, limit: int = 500) -> list[CallbackView]:
        """Open requests oldest first (a queue); done ones most recently done first."""
        with self._sessions() as session:
            statement = select(Callback).limit(limit)
            if done:
                statement = statement.where(Callback.done_at.is_not(None)).order_by(Callback.done_at.desc())
            else:
                statement = statement.where(Callback.done_at.is_(None)).order_by(Callback.created_at)
            return [queries.callback_view(row) for row in session.scalars(statement)]

    def mark_callback_done(self, callback_id: int, user: str | None = None,
                           at: datetime | None = None) -> bool:
        """True when an open request was closed now; False when unknown or already done."""
        with self._sessions.begin() as session:
            row = session.get(Callback, callback_id)
            if row is None or row.done_at is not None:
                return False
            row.done_at, row.done_by = at or datetime.now(UTC), user
            return True

    def knowledge_gaps(self, *, since: datetime | None = None, low_confidence: float = 0.55,
                       threshold: float = DEFAULT_THRESHOLD, limit: int = 1000) -> list[GapGroup]:
        """Questions marked unanswered, or answered/clarified below `low_confidence`, grouped by similarity.

        `low_confidence` defaults to the knowledge base's answer threshold; see `review.gaps` for the grouping.
        """
        with self._sessions() as session:
            weak = (Turn.unanswered.is_(True)) | (
                Turn.action.in_(("answer", "clarify")) & (Turn.confidence < low_confidence)
                & Turn.intent.is_(None)
            )
            statement = select(Turn).where(weak, Turn.transcript != "").order_by(Turn.at.desc()).limit(limit)
            if since is not None:
                statement = statement.where(Turn.at >= since)
            found = [
                GapQuestion(turn_id=t.id, call_id=t.call_id, at=t.at, language=t.language,
                            question=t.transcript, confidence=t.confidence, unanswered=t.unanswered)
                for t in session.scalars(statement)
            ]
        return group_questions(found, threshold)

    def dashboard_stats(self, days: int = 30, now: datetime | None = None) -> DashboardStats:
        days_shown = period(days, now or datetime.now(UTC), self.timezone)
        # A day's margin each side: local days do not line up with UTC ones.
        start = queries.local_day_start(days_shown[0], self.timezone) - timedelta(days=1)
        with self._sessions() as session:
            calls = session.execute(
                select(Call.started_at, Call.language, Call.languages).where(Call.started_at >= start)
            ).all()
            turns = session.execute(
                select(Turn.at, Turn.action, Turn.voice_to_voice_ms).where(Turn.at >= start)
            ).all()
        return build_stats(
            days_shown,
            ((started, language or (spoken.split(",")[0] or None)) for started, language, spoken in calls),
            ((at, action, v2v) for at, action, v2v in turns),
            self.timezone,
        )

    def export_calls(self, fmt: Literal["csv", "json"] = "csv", filters: CallFilters | None = None) -> str:
        """All calls matching `filters` (all calls without) with their turns, as CSV or JSON text."""
        with self._sessions() as session:
            details = queries.call_details(session, queries.filtered_calls(filters, self.timezone))
        return export.to_csv(details) if fmt == "csv" else export.to_json(details)

    # --- Retention -----------------------------------------------------------------------------------

    def delete_older_than(self, cutoff: datetime) -> int:
        """Delete the calls started before `cutoff` with everything recorded about them; return how many."""
        with self._sessions.begin() as session:
            old = select(Call.id).where(Call.started_at < cutoff).scalar_subquery()
            old_turns = select(Turn.id).where(Turn.call_id.in_(old)).scalar_subquery()
            # Explicit, child tables first: does not rely on the database enforcing ON DELETE CASCADE.
            session.execute(delete(Flag).where(Flag.turn_id.in_(old_turns)))
            session.execute(delete(Turn).where(Turn.call_id.in_(old)))
            session.execute(delete(CallStatus).where(CallStatus.call_id.in_(old)))
            session.execute(delete(Callback).where(Callback.call_id.in_(old)))
            session.execute(delete(TransferQuestion).where(TransferQuestion.call_id.in_(old)))
            result = session.execute(delete(Call).where(Call.started_at < cutoff))
            return int(result.rowcount or 0)

    # --- Transfers (telephony.handover.TransferQuestions) ----------------------------------------------

    def hold_transfer_question(self, call_id: str, question: str, at: datetime) -> None:
        """Keep what a caller put through to staff came with, for the instance that takes them back."""
        with self._sessions.begin() as session:
            self._call_for_write(session, call_id, at)
            row = session.get(TransferQuestion, call_id)
            if row is None:
                session.add(TransferQuestion(call_id=call_id, question=self._clean(question), at=at))
            else:
                row.question, row.at = self._clean(question), at

    def take_transfer_question(self, call_id: str) -> str | None:
        """The question kept for this call, removed as it is read (the transfer's outcome is known)."""
        with self._sessions.begin() as session:
            row = session.get(TransferQuestion, call_id)
            if row is None:
                return None
            question = row.question
            session.delete(row)
            return question

    def read_transfer_question(self, call_id: str) -> str | None:
        """The question kept for this call, left in place (the whisper to staff while the transfer rings)."""
        with self._sessions.begin() as session:
            row = session.get(TransferQuestion, call_id)
            return row.question if row is not None else None

    # --- Staff accounts (review.accounts) ------------------------------------------------------------

    def add_user(self, name: str, password: str, *, replace_password: bool = False) -> None:
        self.accounts.add_user(name, password, replace_password=replace_password)

    def verify_user(self, name: str, password: str) -> bool:
        return self.accounts.verify_user(name, password)

    def list_users(self) -> list[str]:
        return self.accounts.list_users()
