"""What identifies a person is redacted (numbers, addresses, IBANs, IDs, birth dates); years, amounts, deadlines and postcodes are not."""

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


@pytest.mark.parametrize(("said", "left"), [
    ("Meine IBAN ist DE89 3704 0044 0532 0130 00, danke.", "Meine IBAN ist [iban], danke."),
    ("IBAN DE89370400440532013000 bitte", "IBAN [iban] bitte"),
    ("my IBAN is GB29 NWBK 6016 1331 9268 19 ok", "my IBAN is [iban] ok"),
])
def test_an_iban_is_redacted_whole(said: str, left: str) -> None:
    assert redact(said) == left


@pytest.mark.parametrize(("said", "left"), [
    ("Meine Steuer-ID ist 12 345 678 901.", "Meine Steuer-ID ist [tax id]."),
    ("tax id 12345678901 please", "tax id [tax id] please"),
    ("Passnummer C01X00T47, gültig", "Passnummer [document], gültig"),
    ("паспорт FA1234567", "паспорт [document]"),
])
def test_tax_ids_and_document_numbers_are_redacted(said: str, left: str) -> None:
    assert redact(said) == left


@pytest.mark.parametrize(("said", "left"), [
    ("Ich bin am 3. Mai 1990 geboren", "Ich bin am [date of birth] geboren"),
    ("geboren am 03.05.90 in Kyjiw", "geboren am [date of birth] in Kyjiw"),
    ("date of birth: 1985-11-02", "date of birth: [date of birth]"),
    ("Je suis né le 12/04/1988.", "Je suis né le [date of birth]."),
    ("my birthday is March 4, 1979", "my birthday is [date of birth]"),
])
def test_dates_of_birth_are_redacted_and_deadlines_kept(said: str, left: str) -> None:
    assert redact(said) == left
    assert redact("Der Termin ist am 15.01.2027, bis 31.12.2026.") == "Der Termin ist am 15.01.2027, bis 31.12.2026."


@pytest.mark.parametrize("spelled", [
    "null sechs vier eins drei null sechs", "zero one five one two three four", "ноль шесть четыре один три",
    "sıfır beş dört bir iki", "zero sześć cztery jeden trzy", "null 6 4 1 drei null",
])
def test_numbers_spelled_out_digit_by_digit_are_redacted(spelled: str) -> None:
    assert redact(f"Meine Nummer: {spelled}.") == "Meine Nummer: [number]."


def test_counting_words_in_a_sentence_are_not_a_number() -> None:
    kept = "Ich habe zwei Kinder und drei Fragen zu einem Termin."
    assert redact(kept) == kept
