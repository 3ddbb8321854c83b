"""Phone numbers and e-mail addresses are redacted; years, amounts, dates and postcodes are not."""

from __future__ import annotations

import pytest

from review.redaction import redact


@pytest.mark.parametrize("spoken", [
    "0641 306-2280", "+49 30 1815-1111", "06441 99 3310", "(0641) 306 22 80", "+49 (0)641 3062280",
    "0171/1234567", "0049 641 3062280", "+1 (555) 123-4567", "+380 44 123 4567", "01512 3456789",
])
def test_german_and_international_phone_numbers_are_redacted(spoken: str) -> None:
    assert redact(f"Meine Nummer: {spoken}.") == "Meine Nummer: [phone]."
    assert redact(f"{spoken} ist meine Nummer") == "[phone] ist meine Nummer"


@pytest.mark.parametrize("kept", [
    "im Jahr 2026", "50.700 Euro", "1.500,00 €", "am 01.02.2026", "am 2026-03-01", "um 08:30 Uhr",
    "35390 Gießen", "§ 16a AufenthG", "3,5 %", "Nummer 5", "seit 12 Jahren", "0800 Uhr", "Raum 0.12",
])
def test_years_amounts_dates_and_postcodes_are_kept(kept: str) -> None:
    assert redact(kept) == kept


def test_a_local_number_is_redacted_after_a_word_that_announces_it() -> None:
    assert redact("meine Telefonnummer ist 306 2280") == "meine Telefonnummer ist [phone]"
    assert redact("my number is 555 1234, thanks") == "my number is [phone], thanks"


@pytest.mark.parametrize("address", ["max.mustermann@web.de", "info+hotline@welcomecenter-mittelhessen.de",
                                     "a.b@uni-giessen.de"])
def test_email_addresses_are_redacted(address: str) -> None:
    assert redact(f"Schreiben Sie an {address}, bitte.") == "Schreiben Sie an [email], bitte."


def test_several_contacts_in_one_transcript() -> None:
    text = "Tel. 0641 306-2280, Fax 0641 306-2281, Mail info@example.org. Gebühr 2026: 50 Euro."
    assert redact(text) == "Tel. [phone], Fax [phone], Mail [email]. Gebühr 2026: 50 Euro."
