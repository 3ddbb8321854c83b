"""Replace phone numbers and e-mail addresses in transcripts and answers by [phone] and [email].

A phone number is a run of digits with the separators people write (spaces, -, /, parentheses) that
- starts like a dialled number: `+`, `00` or a leading `0` (area code or mobile prefix), and
- holds 7 to 15 digits (E.164 allows at most 15),
so "0641 306-2280", "+49 30 1815-1111", "06441 99 3310" and "(0641) 306 22 80" are numbers, while years
("2026"), amounts ("50.700 Euro", dots are never separators) and dates ("01.02.2026") are not.
A shorter local number without area code is caught only right after a word such as "Telefon" or "number".

>>> redact("Rufen Sie 0641 306-2280 an oder schreiben Sie an info@example.org, bis 2026.")
'Rufen Sie [phone] an oder schreiben Sie an [email], bis 2026.'
"""

from __future__ import annotations

import re

PHONE = "[phone]"
EMAIL = "[email]"

_EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}", re.UNICODE)
# Not glued to a word, a number or a decimal/date separator on the left.
_DIALLED = re.compile(r"(?<![\w.,:/+\-])(?:\+\s?\d|\(0|0)[\d \t()/\-]{4,}\d(?!\d)")
_AFTER_WORD = re.compile(
    r"(?i)\b(?:tel(?:efon)?(?:nummer)?|fon|handy(?:nummer)?|mobil(?:nummer)?|rufnummer|nummer|"
    r"phone|telephone|number|mobile|fax)\.?:?\s+(?:(?:ist|lautet|is)\s+)?(\d[\d \t/\-]{3,}\d)(?!\d)"
)


def redact(text: str) -> str:
    """`text` with e-mail addresses and phone numbers replaced."""
    if not text:
        return text
    text = _EMAIL.sub(EMAIL, text)
    text = _DIALLED.sub(_phone_or_keep, text)
    return _AFTER_WORD.sub(_local_number, text)


def _digits(candidate: str) -> int:
    return sum(ch.isdigit() for ch in candidate)


def _phone_or_keep(match: re.Match[str]) -> str:
    candidate = match.group(0)
    # Two spaces or a tab usually separate two things, not the groups of one number.
    if "  " in candidate or "\t" in candidate:
        first = re.split(r"  |\t", candidate, maxsplit=1)[0]
        rest = candidate[len(first):]
        return (PHONE if 7 <= _digits(first) <= 15 else first) + rest
    return PHONE if 7 <= _digits(candidate) <= 15 else candidate


def _local_number(match: re.Match[str]) -> str:
    number = match.group(1)
    if not 5 <= _digits(number) <= 15:
        return match.group(0)
    start, end = match.span(1)
    whole = match.group(0)
    offset = match.start(0)
    return whole[: start - offset] + PHONE + whole[end - offset:]
