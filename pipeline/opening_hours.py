"""When staff can take a call: a weekly schedule in local time, public holidays and extra closure days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays as holiday_calendars

from pipeline.config import WEEKDAYS, OpeningHoursConfig

# Look this far ahead for the next opening; longer closures are a configuration mistake worth surfacing.
_HORIZON_DAYS = 60


@dataclass(frozen=True)
class Interval:
    start: time
    end: time  # 24:00 is stored as time.max


@dataclass(frozen=True)
class Closure:
    day: date
    reason: str  # the holiday's name, or "closure"


class OpeningHours:
    """`is_open(at)` and `next_opening(at)` for a weekly schedule in one time zone.

    Times are compared as local wall-clock times, so daylight-saving changes need no special case.

    >>> hours = OpeningHours.from_config(settings.opening_hours)
    >>> hours.is_open(datetime(2026, 12, 1, 10, tzinfo=ZoneInfo("Europe/Berlin")))
    True
    """

    def __init__(
        self,
        weekly: dict[int, list[Interval]],
        zone: ZoneInfo,
        public_holidays: holiday_calendars.HolidayBase,
        closures: tuple[str, ...],
    ) -> None:
        self.weekly = weekly
        self.zone = zone
        self._holidays = public_holidays
        self._closures = closures

    @classmethod
    def from_config(cls, config: OpeningHoursConfig) -> OpeningHours:
        weekly: dict[int, list[Interval]] = {index: [] for index in range(7)}
        for name, intervals in config.weekly.items():
            weekly[WEEKDAYS.index(name)] = [_parse_interval(text) for text in intervals]
        calendar = holiday_calendars.country_holidays(
            config.holidays.country, subdiv=config.holidays.subdivision, language="en_US"
        )
        return cls(weekly, ZoneInfo(config.timezone), calendar, config.closures)

    def local(self, at: datetime) -> datetime:
        if at.tzinfo is None:
            raise ValueError("a time without a zone is ambiguous; pass an aware datetime")
        return at.astimezone(self.zone)

    def closure(self, day: date) -> Closure | None:
        """Why the centre is closed all day on `day`, if it is (holiday or extra closure)."""
        name = self._holidays.get(day)
        if name:
            return Closure(day, str(name))
        if day.strftime("%m-%d") in self._closures or day.isoformat() in self._closures:
            return Closure(day, "closure")
        return None

    def intervals_on(self, day: date) -> list[Interval]:
        return [] if self.closure(day) else self.weekly[day.weekday()]

    def is_open(self, at: datetime) -> bool:
        local = self.local(at)
        now = local.time().replace(tzinfo=None)
        return any(i.start <= now < i.end for i in self.intervals_on(local.date()))

    def next_opening(self, at: datetime) -> datetime | None:
        """The next moment the centre opens after `at` (aware, in the configured zone); None if not soon."""
        local = self.local(at)
        for offset in range(_HORIZON_DAYS):
            day = local.date() + timedelta(days=offset)
            for interval in self.intervals_on(day):
                start = datetime.combine(day, interval.start, tzinfo=self.zone)
                if start > local:
                    return start
        return None


def _parse_interval(text: str) -> Interval:
    start, end = text.split("-")
    return Interval(time.fromisoformat(start), time.max if end == "24:00" else time.fromisoformat(end))
