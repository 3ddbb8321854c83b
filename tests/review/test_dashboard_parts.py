"""The pieces behind the dashboard and the gaps page: percentiles, charts, similarity grouping."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from review import charts
from review.gaps import GapQuestion, group_questions, similarity, trigrams
from review.stats import percentile


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([1000.0], 95) == 1000.0
    assert percentile([100.0, 200.0, 300.0, 400.0], 50) == 250.0
    assert percentile(list(map(float, range(1, 101))), 95) == pytest.approx(95.05)
    with pytest.raises(ValueError):
        percentile([], 50)


def question(text: str, minutes: int = 0, language: str = "de") -> GapQuestion:
    at = datetime(2026, 11, 20, tzinfo=UTC) + timedelta(minutes=minutes)
    return GapQuestion(turn_id=minutes, call_id="c", at=at, language=language, question=text, confidence=0.1,
                       unanswered=True)


def test_questions_with_the_same_words_in_other_forms_are_grouped() -> None:
    groups = group_questions([
        question("Wie melde ich meine Wohnung an?", 1), question("Wo kann ich meine Wohnung anmelden?", 2),
        question("Wohnung anmelden in Gießen", 3), question("Wie bekomme ich eine Arbeitserlaubnis?", 4),
        question("Arbeitserlaubnis beantragen", 5), question("Wann ist die Müllabfuhr?", 6),
        question("How do I register my apartment?", 7, "en"), question("Where can I register my flat?", 8, "en"),
    ])
    sets = [{q.question for q in g.questions} for g in groups]
    assert sets[0] == {"Wie melde ich meine Wohnung an?", "Wo kann ich meine Wohnung anmelden?",
                       "Wohnung anmelden in Gießen"}
    assert {"Wie bekomme ich eine Arbeitserlaubnis?", "Arbeitserlaubnis beantragen"} in sets
    assert {"How do I register my apartment?", "Where can I register my flat?"} in sets
    assert {"Wann ist die Müllabfuhr?"} in sets
    assert groups[0].label == "Wo kann ich meine Wohnung anmelden?"  # the most central of the three


def test_filler_words_alone_do_not_make_questions_similar() -> None:
    assert similarity(trigrams("Wie kann ich das machen?"), trigrams("Wie kann ich das bezahlen?")) < 0.35
    assert trigrams("und oder wie") == frozenset()


def test_charts_are_plain_svg_and_escape_their_labels() -> None:
    days = tuple(date(2026, 11, d) for d in range(14, 21))
    svg = charts.stacked_days("Calls <per day>", days, {days[-1]: {"<script>": 3, "de": 2}}, ["<script>", "de"])
    assert svg.startswith("<svg") and "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count("<rect") == 2 + 2  # two bars, two legend keys
    lines = charts.latency_lines("Latency", days, {"p50": {days[0]: 900.0, days[1]: 1000.0}, "p95": {}})
    assert "<polyline" in lines and "900 ms" in lines
    assert charts.axis(3) == (3.0, 1.0) and charts.axis(2100) == (2500.0, 500.0)  # whole, round ticks
    bars = charts.horizontal_bars("Actions", {"answer": 3, "transfer": 1}, {"answer": "Antwort"})
    assert "Antwort" in bars and "75 %" in bars
