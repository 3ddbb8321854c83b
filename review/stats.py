"""Dashboard figures: calls per day by language, the action mix and voice-to-voice latency percentiles."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

UNKNOWN_LANGUAGE = "?"


@dataclass(frozen=True)
class LatencyPoint:
    day: date
    p50: float
    p95: float
    samples: int


@dataclass(frozen=True)
class DashboardStats:
    days: tuple[date, ...]  # every local day of the period, oldest first, including days without calls
    calls_by_language: dict[date, dict[str, int]]
    languages: tuple[str, ...]  # most calls first
    action_mix: dict[str, int]  # turn actions (answer, clarify, transfer, closed, goodbye) over the period
    latency: tuple[LatencyPoint, ...]  # only days with at least one measured turn
    total_calls: int

    def calls_on(self, day: date) -> int:
        return sum(self.calls_by_language.get(day, {}).values())


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between the closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def period(days: int, now: datetime, tz: ZoneInfo) -> tuple[date, ...]:
    """The last `days` local days up to and including today."""
    if days < 1:
        raise ValueError("days must be at least 1")
    today = now.astimezone(tz).date()
    return tuple(today - timedelta(days=offset) for offset in range(days - 1, -1, -1))


def build_stats(
    days: tuple[date, ...],
    calls: Iterable[tuple[datetime, str | None]],
    turns: Iterable[tuple[datetime, str, float | None]],
    tz: ZoneInfo,
) -> DashboardStats:
    """Aggregate (started_at, language) per call and (at, action, voice_to_voice_ms) per turn."""
    wanted = set(days)
    by_day: dict[date, Counter[str]] = defaultdict(Counter)
    languages: Counter[str] = Counter()
    for started_at, language in calls:
        day = started_at.astimezone(tz).date()
        if day in wanted:
            by_day[day][language or UNKNOWN_LANGUAGE] += 1
            languages[language or UNKNOWN_LANGUAGE] += 1
    actions: Counter[str] = Counter()
    latencies: dict[date, list[float]] = defaultdict(list)
    for at, action, voice_to_voice in turns:
        day = at.astimezone(tz).date()
        if day not in wanted:
            continue
        actions[action] += 1
        if voice_to_voice is not None:
            latencies[day].append(voice_to_voice)
    return DashboardStats(
        days=days,
        calls_by_language={day: dict(by_day[day]) for day in days if by_day[day]},
        languages=tuple(lang for lang, _ in languages.most_common()),
        action_mix=dict(actions.most_common()),
        latency=tuple(
            LatencyPoint(day, percentile(values, 50), percentile(values, 95), len(values))
            for day in days if (values := latencies.get(day))
        ),
        total_calls=sum(languages.values()),
    )
