"""Named places: a town in Mittelhessen finds its district's foreigners' office, and does not decide the topic."""

import pytest

from knowledge.places import Gazetteer


@pytest.fixture(scope="module")
def gazetteer(settings):
    return Gazetteer.from_file(settings.path(settings.knowledge.topics_dir).parent / "places.yaml")


@pytest.mark.parametrize(("text", "topic"), [
    ("I live in Haiger, which foreigners' office is mine?", "abh-lahn-dill"),
    ("Mieszkam w Herbornie, gdzie jest Ausländerbehörde?", "abh-lahn-dill"),
    ("Я живу в Вецларі, куди мені йти?", "abh-lahn-dill"),
    ("Wetzlar'da oturuyorum", "abh-lahn-dill"),
    ("Мы живём в Гиссене", "abh-giessen"),
    ("We just moved to Grünberg", "abh-giessen"),
    ("Ich wohne in Kirchhain", "abh-marburg"),
])
def test_a_named_town_is_found_in_its_district(gazetteer, text, topic):
    assert [p.topic for p in gazetteer.find(text)] == [topic]


def test_a_town_name_that_is_an_everyday_word_counts_only_as_a_place(gazetteer):
    assert gazetteer.find("Wie wird das Wetter morgen?") == ()
    assert [p.name for p in gazetteer.find("Ich wohne in Wetter")] == ["Wetter (Hessen)"]


@pytest.mark.parametrize(("question", "lang", "topic"), [
    ("Ich wohne seit kurzem in Haiger. Welche Ausländerbehörde ist für mich zuständig?", "de", "abh-lahn-dill"),
    ("Which foreigners' office do I go to if I live in Pohlheim?", "en", "abh-giessen"),
    ("Mieszkam w Stadtallendorfie. Które Ausländerbehörde jest dla mnie?", "pl", "abh-marburg"),
])
def test_the_foreigners_office_of_the_callers_town_is_answered(knowledge, question, lang, topic):
    assert knowledge.search(question, language=lang).best.topic.id == topic


def test_a_town_name_does_not_decide_a_question_about_something_else(knowledge):
    match = knowledge.search("Ich bin nach Herborn gezogen. Wie melde ich meine neue Wohnung an?", language="de")
    assert match.best.topic.id == "address-registration"
    assert [p.name for p in match.places] == ["Herborn"]
