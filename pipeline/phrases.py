"""The dialogue's own sentences in every served language (`config/phrases.yaml`), with times and hours."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from typing import Any

import yaml

from pipeline.opening_hours import OpeningHours

REQUIRED = (
    "language_name", "clarify_empty", "clarify_low", "no_answer", "transfer", "closed", "emergency", "goodbye",
    "thanks", "nothing_to_repeat", "no_details", "language_switched", "unsupported_language", "apology_fault",
    "opening_today", "opening_tomorrow", "opening_on", "hours_range", "day_range", "hours_closed_holidays",
    "list_and", "weekdays", "months", "greeting", "ask_more", "callback_offer", "callback_saved",
    "consent_notice", "consent_objected", "choose_topic", "confirm_topic", "option_words",
    "sms_offer", "sms_sending", "sms_failed", "sms_contact", "sms_callback", "contact_unconfigured",
)


class Phrases:
    """`phrases.say("de", "closed", next_opening=...)` returns the sentence to speak."""

    def __init__(self, table: dict[str, dict[str, Any]], served: tuple[str, ...]) -> None:
        for language in served:
            entry = table.get(language)
            if not isinstance(entry, dict):
                raise ValueError(f"phrases: language {language!r} is missing")  # noqa: TRY004 - a config error, not a caller passing the wrong type
            missing = [key for key in REQUIRED if key not in entry]
            if missing:
                raise ValueError(f"phrases.{language}: missing {missing}")
            if len(entry["weekdays"]) != 7 or len(entry["months"]) != 12:
                raise ValueError(f"phrases.{language}: need 7 weekdays and 12 months")
        self._table = table

    @classmethod
    def from_file(cls, path: Path, served: tuple[str, ...]) -> Phrases:
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")), served)

    def say(self, language: str, key: str, **values: str) -> str:
        return str(self._table[language][key]).format(**values)

    def option_words(self, language: str) -> list[list[str]]:
        """The words that pick the first, the second ... option of a choice question ("erste", "zwei")."""
        return [[str(word).lower() for word in words] for words in self._table[language]["option_words"]]

    def join(self, language: str, items: list[str]) -> str:
        if len(items) <= 1:
            return "".join(items)
        return f"{', '.join(items[:-1])} {self._table[language]['list_and']} {items[-1]}"

    def language_names(self, languages: tuple[str, ...], in_language: str) -> str:
        return self.join(in_language, [self._table[lang]["language_name"] for lang in languages])

    def when(self, language: str, moment: datetime, now: datetime) -> str:
        """'today at 9:00', 'tomorrow at 9:00' or 'on Monday, 28 December, at 9:00' in `language`."""
        clock = _clock(moment.time())
        days = (moment.date() - now.date()).days
        if days == 0:
            return self.say(language, "opening_today", time=clock)
        if days == 1:
            return self.say(language, "opening_tomorrow", time=clock)
        entry = self._table[language]
        return self.say(
            language, "opening_on", weekday=entry["weekdays"][moment.weekday()], day=str(moment.day),
            month=entry["months"][moment.month - 1], time=clock,
        )

    def opening_hours(self, language: str, hours: OpeningHours) -> str:
        """The weekly schedule as one speakable sentence, days with equal hours grouped."""
        entry = self._table[language]
        groups: list[tuple[int, int, tuple]] = []
        for day in range(7):
            intervals = tuple((i.start, i.end) for i in hours.weekly[day])
            if groups and groups[-1][2] == intervals and groups[-1][1] == day - 1:
                groups[-1] = (groups[-1][0], day, intervals)
            else:
                groups.append((day, day, intervals))
        parts = []
        for first, last, intervals in groups:
            if not intervals:
                continue
            days = entry["weekdays"][first] if first == last else self.say(
                language, "day_range", first=entry["weekdays"][first], last=entry["weekdays"][last]
            )
            spans = [self.say(language, "hours_range", days=days, open=_clock(s), close=_clock(e))
                     for s, e in intervals]
            parts.append(self.join(language, spans))
        return f"{self.join(language, parts)}, {entry['hours_closed_holidays']}"


def _clock(value: time) -> str:
    return "24:00" if value == time.max else f"{value.hour}:{value.minute:02d}"
