"""Reading what the review pages are asked for: query-string filters, periods, redirect targets."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from review.queries import ACTIONS, CallFilters

PERIODS = (7, 30, 90, 365)
HOME = "/review/calls"


def filters_from_query(params: Mapping[str, str]) -> tuple[CallFilters, list[str]]:
    """The calls filters from ?date_from=&date_to=&language=&channel=&action=&q=; bad values are dropped
    and named in the second element, so the page can say what it ignored."""
    problems: list[str] = []

    def day(name: str) -> date | None:
        value = (params.get(name) or "").strip()
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            problems.append(name)
            return None

    action = (params.get("action") or "").strip() or None
    if action is not None and action not in ACTIONS:
        problems.append("action")
        action = None
    return CallFilters(
        date_from=day("date_from"),
        date_to=day("date_to"),
        language=(params.get("language") or "").strip() or None,
        channel=(params.get("channel") or "").strip() or None,
        action=action,
        query=(params.get("q") or "").strip()[:200] or None,
    ), problems


def period_days(days: int) -> int:
    """A dashboard period between one day and a year."""
    return min(max(days, 1), 366)


def safe_next(target: str | None) -> str:
    """Where to go after login: only a path inside /review, never another site (open redirect)."""
    inside = target == "/review" or (target or "").startswith(("/review/", "/review?"))
    if not target or not inside or "\\" in target:
        return HOME
    if target.rstrip("/") in ("/review/login", "/review/logout"):
        return HOME
    return target
