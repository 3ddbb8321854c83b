"""Time for the dialogue: the real clock, or a fixed moment (`--at`) for tests and replays."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def parse_moment(text: str | None, zone: str) -> datetime:
    """An ISO time; one without an offset is read as local time in `zone`. None means now."""
    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--at {text!r} is not an ISO time such as 2026-12-01T10:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))
