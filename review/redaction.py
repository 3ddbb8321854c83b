"""Replace what identifies a person in transcripts and answers: phone numbers, e-mail addresses, IBANs, German tax
IDs, passport and document numbers, dates of birth and numbers spelled out word by word.

A phone number is a run of digits with the separators people write (spaces, -, /, parentheses) that
- starts like a dialled number: `+`, `00` or a leading `0` (area code or mobile prefix), and
- holds 7 to 15 digits (E.164 allows at most 15),
so "0641 306-2280", "+49 30 1815-1111", "06441 99 3310" and "(0641) 306 22 80" are numbers, while years
("2026"), amounts ("50.700 Euro", dots are never separators) and dates ("01.02.2026") are not.
A shorter local number without area code is caught only right after a word such as "Telefon" or "number".

An IBAN is two letters, two check digits and 11 to 30 more (groups of four allowed); a tax ID is 11 digits; a
document number is 7 to 10 capitals and digits with at least four digits ("C01X00T47"); a date of birth is a
full date after "geboren", "born", "date of birth" ... or any full date at least 14 years back (a caller's
transcript names such a date for one reason); a spelled number is five or more digit words or digit groups in a
row in any of the ten languages ("null sechs vier eins drei").

>>> redact("Rufen Sie 0641 306-2280 an oder schreiben Sie an info@example.org, bis 2026.")
'Rufen Sie [phone] an oder schreiben Sie an [email], bis 2026.'
>>> redact("IBAN DE89 3704 0044 0532 0130 00, geboren am 03.05.1990")
'IBAN [iban], geboren am [date of birth]'
"""

from __future__ import annotations

import re
from datetime import date

PHONE = "[phone]"
EMAIL = "[email]"
IBAN = "[iban]"
TAX_ID = "[tax id]"
DOCUMENT = "[document]"
BIRTH_DATE = "[date of birth]"
SPELLED = "[number]"
ADULT_YEARS = 14  # a full date this far back is a date of birth, not a deadline

_IBAN = re.compile(r"(?<![\w])[A-Z]{2}\d{2}(?:(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?|[A-Z0-9]{11,30})(?![\w])")
_TAX_ID = re.compile(r"(?<![\w.,:/+\-])[1-9]\d(?: ?\d{3}){3}(?![\w]|[.,]\d)")
_DOCUMENT = re.compile(r"(?<![\w])(?=[A-Z0-9]{7,10}(?![\w]))(?=(?:[A-Z]*\d){4})(?=\d*[A-Z])[A-Z0-9]{7,10}(?![\w])")
_MONTHS = (r"jan(?:uar|uary)?|feb(?:ruar|ruary)?|märz|maerz|mar(?:ch)?|apr(?:il)?|mai|may|jun[ie]?|jul[iy]?|"
           r"aug(?:ust)?|sep(?:t(?:ember)?)?|o[ck]t(?:ober)?|nov(?:ember)?|de[cz](?:ember)?")
_FULL_DATE = (rf"\d{{1,2}}[./-]\s?\d{{1,2}}[./-]\s?(?P<y1>\d{{4}})|\d{{1,2}}\.?\s(?:{_MONTHS})\.?\s(?P<y2>\d{{4}})|"
              rf"(?:{_MONTHS})\.?\s\d{{1,2}},?\s(?P<y3>\d{{4}})|(?P<y4>\d{{4}})-\d{{2}}-\d{{2}}")
_DATE = re.compile(rf"(?i)(?<![\w.])(?:{_FULL_DATE})(?![\w]|\.\d)")
_BIRTH = re.compile(
    r"(?i)\b(?:geboren|geburtsdatum|geburtstag|born|birth(?:day|date)?|date of birth|né|née|naissance|nacid[oa]|"
    r"nacimiento|urodzon[ya]|urodzenia|născut|nascut|naşterii|nașterii|doğum|doğdum|родил(?:ся|ась)|рождения|"
    r"народил(?:ся|ася)|народження|ولدت|الميلاد)\b[^\d\n]{0,20}"
    r"(\d{1,2}[./-]\s?\d{1,2}[./-]\s?\d{2,4}|\d{1,2}\.?\s\w+\.?\s\d{4}|\d{4}-\d{2}-\d{2})")
_DIGIT_WORDS = (  # noqa: SIM905 - one word list reads better than 120 quoted words
    "null eins zwei drei vier fünf fuenf sechs sieben acht neun zero oh one two three four five six seven eight "
    "nine zéro un deux trois quatre cinq six sept huit neuf cero uno dos tres cuatro cinco seis siete ocho nueve "
    "jeden dwa trzy cztery pięć sześć siedem osiem dziewięć unu doi trei patru cinci șase şase sase șapte şapte "
    "sapte opt nouă noua sıfır bir iki üç dört beş altı yedi sekiz dokuz ноль нуль один два три четыре пять "
    "шесть семь восемь девять чотири п'ять п’ять шість сім вісім дев'ять дев’ять صفر واحد اثنان اثنين ثلاثة "
    "أربعة خمسة ستة سبعة ثمانية تسعة"
).split()
_DIGIT = "|".join(sorted({re.escape(w) for w in _DIGIT_WORDS}, key=len, reverse=True)) + r"|\d{1,4}"
_SPELLED = re.compile(rf"(?i)(?<![\w'’])(?:{_DIGIT})(?:[\s,-]+(?:{_DIGIT})){{4,}}(?![\w'’])")

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
    text = _IBAN.sub(IBAN, text)  # before phone numbers: its digit groups would look like one
    text = _BIRTH.sub(_birth_date, text)
    text = _DATE.sub(_old_date_or_keep, text)
    text = _TAX_ID.sub(TAX_ID, text)
    text = _DOCUMENT.sub(DOCUMENT, text)
    text = _DIALLED.sub(_phone_or_keep, text)
    text = _AFTER_WORD.sub(_local_number, text)
    return _SPELLED.sub(_spelled_or_keep, text)


def _birth_date(match: re.Match[str]) -> str:
    start, end = match.span(1)
    offset = match.start(0)
    whole = match.group(0)
    return whole[: start - offset] + BIRTH_DATE + whole[end - offset:]


def _old_date_or_keep(match: re.Match[str]) -> str:
    year = int(next(y for y in match.group("y1", "y2", "y3", "y4") if y))
    return BIRTH_DATE if 1900 <= year <= date.today().year - ADULT_YEARS else match.group(0)


def _spelled_or_keep(match: re.Match[str]) -> str:
    # Only digits ("0641 306 22 80" that was not a phone number, "2026 2027 ...") stay: the rules above decided.
    spelled = re.sub(r"[\d\s,-]", "", match.group(0))
    return SPELLED if spelled else match.group(0)


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
