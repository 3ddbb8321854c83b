"""Close topics: the caller is asked which one they mean and answers by voice, by naming it or by key."""

from pipeline.dialogue import Conversation
from tests.conftest import berlin

TUESDAY_10 = berlin(2026, 12, 1, 10, 0)
OFFERED = ("address-registration", "abh-responsible")


def offered(language: str) -> Conversation:
    """A conversation right after "Do you mean registering your address, or the foreigners' office?"."""
    return Conversation(language=language, options=OFFERED)


def test_a_question_that_fits_two_topics_gets_one_short_choice_question(dialogue):
    reply = dialogue.respond(Conversation(), "Ich brauche Hilfe mit meinem Aufenthaltstitel", TUESDAY_10)
    assert reply.action == "clarify" and reply.intent == "choose", reply
    assert len(reply.options) == 2 and "abh-responsible" in reply.options
    labels = [dialogue.knowledge.topics[t].answers["de"].label for t in reply.options]
    assert all(label in reply.answer for label in labels) and "1" in reply.answer and "2" in reply.answer


def test_the_caller_picks_the_second_option_by_ordinal_or_by_key(dialogue):
    for answer in ("die zweite bitte", "2", "Nummer zwei"):
        reply = dialogue.respond(offered("de"), answer, TUESDAY_10)
        assert (reply.action, reply.topic, reply.language) == ("answer", "abh-responsible", "de"), answer


def test_the_caller_picks_an_option_by_naming_it_in_their_language(dialogue):
    reply = dialogue.respond(offered("pl"), "Chodzi mi o zameldowanie mieszkania", TUESDAY_10)
    assert (reply.action, reply.topic, reply.language) == ("answer", "address-registration", "pl")


def test_a_new_question_after_a_choice_question_is_answered_for_itself(dialogue):
    conversation = offered("en")
    reply = dialogue.respond(conversation, "How much does the Deutschlandticket cost per month?", TUESDAY_10)
    assert (reply.action, reply.topic) == ("answer", "deutschlandticket")
    assert conversation.options == ()


def test_a_clear_question_is_answered_without_a_choice(dialogue):
    reply = dialogue.respond(Conversation(), "Wie melde ich meine Wohnung an?", TUESDAY_10)
    assert (reply.action, reply.topic, reply.options) == ("answer", "address-registration", ())


def test_the_topic_classifier_is_kept_with_the_index_and_knows_every_topic(knowledge):
    assert knowledge.classifier is not None
    assert set(knowledge.classifier.topics) == set(knowledge.topics)
    probabilities = knowledge.classifier.probabilities(
        knowledge.pipeline.get_component("embedder").run("Wie viel kostet das Deutschlandticket?")["embedding"])
    assert max(probabilities, key=probabilities.__getitem__) == "deutschlandticket"


def confirming(language: str, topic: str) -> Conversation:
    """A conversation right after "Do you mean <topic>?"."""
    return Conversation(language=language, options=(topic,))


def test_an_unsure_match_is_offered_for_the_caller_to_confirm_not_to_rephrase(dialogue):
    # Right topic, below the answer threshold: a caller on a bad line hears which topic we think they mean.
    reply = dialogue.respond(Conversation(), "How big is Giessen compared to Marburg, population wise?", TUESDAY_10)
    assert (reply.action, reply.intent, reply.options) == ("clarify", "choose", ("cities",)), reply
    label = dialogue.knowledge.topics["cities"].answers["en"].label
    assert reply.answer == f"Do you mean {label}? Say yes, or press 1."


def test_yes_or_key_one_to_the_confirmation_gives_the_answer_in_the_callers_language(dialogue):
    for language, answer in (("en", "yes"), ("de", "ja, genau"), ("tr", "evet"), ("pl", "tak"), ("en", "1")):
        reply = dialogue.respond(confirming(language, "cities"), answer, TUESDAY_10)
        assert (reply.action, reply.topic, reply.language) == ("answer", "cities", language), answer


def test_no_to_the_confirmation_asks_for_other_words_and_answers_nothing(dialogue):
    conversation = confirming("de", "cities")
    reply = dialogue.respond(conversation, "nein", TUESDAY_10)
    assert (reply.action, reply.topic, reply.intent) == ("clarify", None, "no")
    assert reply.answer == dialogue.phrases.say("de", "clarify_low")
    assert conversation.options == ()


def test_a_new_question_after_a_confirmation_is_answered_for_itself(dialogue):
    reply = dialogue.respond(confirming("en", "cities"), "How much does the Deutschlandticket cost per month?",
                             TUESDAY_10)
    assert (reply.action, reply.topic) == ("answer", "deutschlandticket")
