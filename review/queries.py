"""Read side of the transcript store: filters and the typed records the review UI shows."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from pipeline.records import SourceRecord
from review.database import fold, fold_text
from review.models import Call, Callback, Flag, Turn

# The call-level outcomes staff filter by, and the turns that make a call count as one.
ACTIONS = ("answered", "transferred", "unanswered", "closed")
MAX_QUERY_TERMS = 8


@dataclass(frozen=True)
class CallFilters:
    """What the calls list is narrowed to; dates are local days (the store's time zone), both inclusive."""

    date_from: date | None = None
    date_to: date | None = None
    language: str | None = None
    channel: str | None = None
    action: str | None = None  # one of ACTIONS
    query: str | None = None  # every word must occur in some transcript or answer of the call

    def __post_init__(self) -> None:
        if self.action is not None and self.action not in ACTIONS:
            raise ValueError(f"unknown action filter {self.action!r}; use one of {', '.join(ACTIONS)}")


@dataclass(frozen=True)
class FlagView:
    id: int
    turn_id: int
    call_id: str
    user: str
    note: str
    created_at: datetime
    question: str = ""
    answer: str = ""
    topic: str | None = None


@dataclass(frozen=True)
class TurnView:
    id: int
    index: int
    at: datetime
    transcript: str
    language: str
    detected_language: str | None
    language_confidence: float | None
    action: str
    answer: str
    topic: str | None
    sources: tuple[SourceRecord, ...]
    confidence: float
    intent: str | None
    unanswered: bool
    barge_in: bool
    error: str | None
    timings_ms: dict[str, float]
    flags: tuple[FlagView, ...] = ()
    ending: str | None = None  # how the answer's speaking ended (pipeline.records.ENDINGS); None: unfinished


@dataclass(frozen=True)
class CallSummary:
    id: str
    channel: str
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None
    language: str | None
    languages: tuple[str, ...]
    caller_number: str | None
    turn_count: int = 0
    first_question: str = ""
    actions: tuple[str, ...] = ()  # distinct turn actions, in order of first occurrence
    unanswered: int = 0
    errors: int = 0


@dataclass(frozen=True)
class CallbackView:
    id: int
    call_id: str
    language: str
    question: str
    created_at: datetime
    number: str | None
    name: str | None
    email: str | None
    done_at: datetime | None
    done_by: str | None


@dataclass(frozen=True)
class CallDetail:
    call: CallSummary
    turns: tuple[TurnView, ...]
    statuses: tuple[tuple[str, datetime], ...] = ()
    callbacks: tuple[CallbackView, ...] = field(default=())


def _action_clause(action: str) -> ColumnElement[bool]:
    def any_turn(condition: ColumnElement[bool]) -> ColumnElement[bool]:
        return exists().where(Turn.call_id == Call.id, condition)

    if action == "answered":
        return any_turn(and_(Turn.action == "answer", Turn.unanswered.is_(False)))
    if action == "transferred":
        return or_(any_turn(Turn.action == "transfer"), fold(Call.outcome).contains("transfer"))
    if action == "unanswered":
        return any_turn(Turn.unanswered.is_(True))
    return or_(any_turn(Turn.action == "closed"), Call.outcome == "closed")


def local_day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz)


def filtered_calls(filters: CallFilters | None, tz: ZoneInfo) -> Select[tuple[Call]]:
    """SELECT of the calls matching `filters`, newest first."""
    statement = select(Call)
    f = filters or CallFilters()
    if f.date_from:
        statement = statement.where(Call.started_at >= local_day_start(f.date_from, tz))
    if f.date_to:
        statement = statement.where(Call.started_at < local_day_start(f.date_to + timedelta(days=1), tz))
    if f.language:
        spoken = exists().where(Turn.call_id == Call.id, Turn.language == f.language)
        statement = statement.where(or_(Call.language == f.language, spoken))
    if f.channel:
        statement = statement.where(Call.channel == f.channel)
    if f.action:
        statement = statement.where(_action_clause(f.action))
    for term in (fold_text(f.query or "") or "").split()[:MAX_QUERY_TERMS]:
        said = or_(fold(Turn.transcript).contains(term, autoescape=True),
                   fold(Turn.answer).contains(term, autoescape=True))
        statement = statement.where(exists().where(Turn.call_id == Call.id, said))
    return statement.order_by(Call.started_at.desc(), Call.id)


def count_calls(session: Session, filters: CallFilters | None, tz: ZoneInfo) -> int:
    inner = filtered_calls(filters, tz).order_by(None).subquery()
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def call_summaries(session: Session, calls: list[Call]) -> list[CallSummary]:
    """Summaries of `calls`, with their turns read in one query."""
    turns: dict[str, list[Turn]] = defaultdict(list)
    if calls:
        rows = session.scalars(select(Turn).where(Turn.call_id.in_([c.id for c in calls])).order_by(Turn.index))
        for turn in rows:
            turns[turn.call_id].append(turn)
    return [summarise(call, turns[call.id]) for call in calls]


def summarise(call: Call, turns: list[Turn]) -> CallSummary:
    return CallSummary(
        id=call.id, channel=call.channel, started_at=call.started_at, ended_at=call.ended_at,
        outcome=call.outcome, language=call.language,
        languages=tuple(lang for lang in call.languages.split(",") if lang),
        caller_number=call.caller_number, turn_count=len(turns),
        first_question=next((t.transcript for t in turns if t.transcript.strip()), ""),
        actions=tuple(dict.fromkeys(t.action for t in turns)),
        unanswered=sum(t.unanswered for t in turns), errors=sum(t.error is not None for t in turns),
    )


def call_details(session: Session, statement: Select[tuple[Call]]) -> list[CallDetail]:
    """Full records of the selected calls: turns with flags, statuses and callbacks, in a few queries."""
    calls = list(session.scalars(
        statement.options(selectinload(Call.turns).selectinload(Turn.flags), selectinload(Call.statuses))
    ))
    callbacks: dict[str, list[Callback]] = defaultdict(list)
    ids = [call.id for call in calls]
    for start in range(0, len(ids), 500):  # keep the IN list within every database's parameter limit
        rows = session.scalars(select(Callback).where(Callback.call_id.in_(ids[start : start + 500]))
                               .order_by(Callback.id))
        for row in rows:
            callbacks[row.call_id].append(row)
    return [
        CallDetail(
            call=summarise(call, list(call.turns)),
            turns=tuple(turn_view(t) for t in call.turns),
            statuses=tuple((s.status, s.at) for s in call.statuses),
            callbacks=tuple(callback_view(c) for c in callbacks[call.id]),
        )
        for call in calls
    ]


def call_detail(session: Session, call_id: str) -> CallDetail | None:
    found = call_details(session, select(Call).where(Call.id == call_id))
    return found[0] if found else None


def turn_view(turn: Turn) -> TurnView:
    return TurnView(
        id=turn.id, index=turn.index, at=turn.at, transcript=turn.transcript, language=turn.language,
        detected_language=turn.detected_language, language_confidence=turn.language_confidence,
        action=turn.action, answer=turn.answer, topic=turn.topic,
        sources=tuple(SourceRecord(title=s.get("title", ""), url=s.get("url", "")) for s in turn.sources),
        confidence=turn.confidence, intent=turn.intent, unanswered=turn.unanswered, barge_in=turn.barge_in,
        error=turn.error, timings_ms=dict(turn.timings_ms),
        flags=tuple(flag_view(f, turn) for f in turn.flags), ending=turn.ending,
    )


def flag_view(flag: Flag, turn: Turn) -> FlagView:
    return FlagView(id=flag.id, turn_id=flag.turn_id, call_id=turn.call_id, user=flag.user, note=flag.note,
                    created_at=flag.created_at, question=turn.transcript, answer=turn.answer, topic=turn.topic)


def callback_view(callback: Callback) -> CallbackView:
    return CallbackView(
        id=callback.id, call_id=callback.call_id, language=callback.language, question=callback.question,
        created_at=callback.created_at, number=callback.number, name=callback.name, email=callback.email,
        done_at=callback.done_at, done_by=callback.done_by,
    )


def jsonable(value: Any) -> Any:
    """Records to plain JSON types (datetimes as ISO 8601 strings)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, SourceRecord):
        return {"title": value.title, "url": value.url}
    if hasattr(value, "__dataclass_fields__"):
        return {name: jsonable(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
