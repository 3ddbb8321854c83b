"""The answering core, as a caller experiences it: language, intents, opening hours, retrieval, bad input."""

import copy

import pytest

from pipeline.dialogue import Conversation
from tests.conftest import berlin

TUESDAY_10 = berlin(2026, 12, 1, 10, 0)
SUNDAY = berlin(2026, 11, 29, 11, 0)
CHRISTMAS = berlin(2026, 12, 25, 10, 0)

EVERYDAY = [
    ("de", "Bis wann muss ich mich nach dem Umzug beim Bürgerbüro anmelden?", "address-registration"),
    ("en", "How much do I need to earn for an EU Blue Card?", "blue-card"),
    ("ar", "ما هو رقم الطوارئ للإسعاف في ألمانيا؟", "emergency-numbers"),
    ("tr", "Almanya'da iş arayanlar için fırsat kartı nedir?", "opportunity-card"),
    ("uk", "Скільки коштує Deutschlandticket на місяць?", "deutschlandticket"),
    ("ru", "Как получить налоговый идентификационный номер?", "tax-id"),
    ("es", "¿Cómo puedo traer a mi esposa y a mis hijos a Alemania?", "family-reunification"),
    ("fr", "Comment faire reconnaître mon diplôme étranger en Allemagne ?", "recognition"),
    ("pl", "Ile kosztuje kurs integracyjny?", "integration-course"),
    ("ro", "Am dreptul la un cont bancar de bază?", "bank-account"),
]


def ask(dialogue, text, at=TUESDAY_10, conversation=None):
    return dialogue.respond(conversation or Conversation(), text, at)


@pytest.mark.parametrize(("lang", "question", "topic"), EVERYDAY)
def test_everyday_questions_are_answered_in_the_language_asked(dialogue, lang, question, topic):
    reply = ask(dialogue, question)
    assert (reply.action, reply.topic, reply.language) == ("answer", topic, lang)
    assert reply.answer == dialogue.render(dialogue.knowledge.topics[topic].answers[lang].answer, lang)
    assert reply.sources and all(s.url.startswith("http") for s in reply.sources)


def test_a_german_topic_answers_an_english_question_in_english(dialogue):
    reply = ask(dialogue, "Where do I get the confirmation from my landlord for the Anmeldung?")
    assert reply.language == "en" and reply.topic == "address-registration"


def test_operator_facts_come_from_config_not_from_the_topic_prose(dialogue, settings):
    # An operator who has entered the centre's real details (none marked as an example any more).
    configured = copy.copy(dialogue)
    configured.settings = settings.model_copy(
        update={"operator": settings.operator.model_copy(update={"example_values": ()})})
    reply = ask(configured, "What is the address of the Welcome Center?")
    assert reply.topic in ("welcome-center", "contact-welcome-center")
    assert settings.operator.address in reply.answer
    assert "{" not in reply.answer


def test_example_contact_details_are_not_given_as_facts_but_the_way_to_staff_is(dialogue, settings):
    reply = ask(dialogue, "What is the phone number of the Welcome Center?")
    assert reply.topic == "contact-welcome-center"
    assert settings.operator.phone not in reply.answer and settings.operator.address not in reply.answer
    assert reply.answer == dialogue.phrases.say("en", "contact_unconfigured")
    assert settings.operator.phone not in reply.details


def test_asking_for_a_person_on_a_tuesday_morning_transfers(dialogue):
    reply = ask(dialogue, "Ich möchte bitte mit einem Mitarbeiter sprechen", TUESDAY_10)
    assert (reply.action, reply.language) == ("transfer", "de")


@pytest.mark.parametrize(("at", "expected"), [(SUNDAY, "morgen um 9:00"), (CHRISTMAS, "28")])
def test_asking_for_a_person_when_closed_gives_the_next_opening(dialogue, at, expected):
    reply = ask(dialogue, "Ich möchte bitte mit einem Mitarbeiter sprechen", at)
    assert reply.action == "closed"
    assert expected in reply.answer


def test_closed_message_is_in_the_callers_language(dialogue):
    reply = ask(dialogue, "I would like to talk to a staff member please", SUNDAY)
    assert reply.action == "closed" and reply.language == "en"
    assert "tomorrow at 9:00" in reply.answer


def test_an_emergency_is_answered_first(dialogue):
    reply = ask(dialogue, "Mein Mann ist bewusstlos, wir brauchen sofort einen Krankenwagen!")
    assert reply.intent == "emergency"
    assert "112" in reply.answer and "110" in reply.answer


def test_english_please_switches_the_language_for_the_rest_of_the_call(dialogue):
    conversation = Conversation()
    ask(dialogue, "Wie viel kostet das Deutschlandticket?", conversation=conversation)
    switched = ask(dialogue, "Englisch, bitte", conversation=conversation)
    assert switched.language == "en"
    after = ask(dialogue, "Wie viel kostet das Deutschlandticket?", conversation=conversation)
    assert after.language == "en" and after.topic == "deutschlandticket"


def test_language_is_sticky_on_short_ambiguous_utterances(dialogue):
    conversation = Conversation()
    ask(dialogue, "Wie bekomme ich eine Steuer-Identifikationsnummer?", conversation=conversation)
    reply = ask(dialogue, "ok", conversation=conversation)
    assert reply.language == "de"


def test_a_forced_language_wins_over_detection(dialogue):
    reply = dialogue.respond(Conversation.in_language("tr"), "How much is the Deutschlandticket?", TUESDAY_10)
    assert reply.language == "tr" and reply.topic == "deutschlandticket"


def test_an_unserved_language_is_answered_in_english_naming_the_served_ones(dialogue):
    reply = ask(dialogue, "Quanto costa il Deutschlandticket al mese per una persona?")
    assert reply.language == "en"
    assert "Deutsch" in reply.answer and "English" in reply.answer


def test_repeat_and_more_details_refer_to_the_last_answer(dialogue):
    conversation = Conversation()
    first = ask(dialogue, "How much do I need to earn for an EU Blue Card?", conversation=conversation)
    again = ask(dialogue, "Can you repeat that please?", conversation=conversation)
    assert again.answer == first.answer and again.intent == "repeat"
    more = ask(dialogue, "Tell me more details", conversation=conversation)
    assert more.intent == "details" and more.topic == "blue-card"
    assert "http" not in more.answer


def test_thanks_and_goodbye(dialogue):
    assert ask(dialogue, "Danke schön!").intent == "thanks"
    assert ask(dialogue, "Tschüss, das war alles").action == "goodbye"


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_an_empty_question_gets_clarify(dialogue, text):
    assert ask(dialogue, text).action == "clarify"


def test_a_very_long_question_is_cut_and_still_answered(dialogue, settings):
    question = "How much do I need to earn for an EU Blue Card? " + "blah " * 2000
    reply = ask(dialogue, question)
    assert len(reply.question) <= settings.knowledge.max_question_chars
    assert reply.topic == "blue-card"


def test_control_characters_and_mixed_scripts_do_not_crash(dialogue):
    reply = ask(dialogue, "Blue\x00 Card\x1b[31m зарплата 給料 \u202e راتب ?")
    assert reply.action in ("answer", "clarify")


def test_an_unanswerable_question_gets_an_honest_no_and_the_offer_of_staff(dialogue):
    reply = ask(dialogue, "Kann ich meine Katze aus der Türkei mitbringen?")
    assert reply.action == "clarify" and reply.unanswered


def test_unanswerable_questions_are_rarely_answered_with_confidence(dialogue, settings, knowledge):
    from knowledge.evaluation import load_eval_set

    negatives = load_eval_set(settings.path(settings.knowledge.eval_dir), set(knowledge.topics), unanswerable=True)
    answered = [q.text for q in negatives if ask(dialogue, q.text).action == "answer"]
    # Interim, measured with the 182 questions written for evaluation: 28 answered with confidence. The
    # understanding work retunes the thresholds toward at most one per language.
    assert len(answered) <= 28, answered
