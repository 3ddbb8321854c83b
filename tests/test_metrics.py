"""/metrics: what an operator's Prometheus scrapes, and who may scrape it.

Turns come from the real dialogue and are reported by the real recorder, as in a call; /metrics is served by
a real uvicorn on loopback (the allowed case) and asked through the test client (not loopback: refused).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from hotline.app import Services, create_app
from hotline.metrics import HotlineMetrics
from hotline.settings import load_settings
from pipeline.dialogue import Conversation
from pipeline.recording import Recorder
from tests.conftest import berlin
from tests.servers import running

TUESDAY_10 = berlin(2026, 12, 1, 10, 0)
TOKEN = "scrape-token-0123456789"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition by (name, sorted labels); parsing it also checks the format."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def a_call(metrics: HotlineMetrics, dialogue, questions: list[str], outcome: str) -> None:
    recorder = Recorder(None, "metrics-call", "phone", lambda: TUESDAY_10, metrics)
    await recorder.start("de")
    conversation = Conversation.in_language(None)
    for index, question in enumerate(questions):
        reply = dialogue.respond(conversation, question, TUESDAY_10)
        reply.timings_ms.update({"stt": 180.0, "tts_first_audio": 40.0, "voice_to_voice": 650.0})
        recorder.decided(index, reply, None, None, cut=False)
        recorder.ended(index, "played")
    await recorder.end(outcome)


def test_calls_and_turns_are_counted_by_outcome_action_and_language(settings, dialogue):
    metrics = HotlineMetrics(phone_lines=8)
    asyncio.run(a_call(metrics, dialogue, ["Wie viel kostet das Deutschlandticket?",
                                           "Wie viele Einhörner leben in Wetzlar am Dom?"], "hung_up"))
    metrics.call_refused("phone", "busy")
    got = samples(metrics.exposition().decode())
    assert got[("hotline_calls_total", (("channel", "phone"), ("outcome", "hung_up")))] == 1
    assert got[("hotline_calls_total", (("channel", "phone"), ("outcome", "busy")))] == 1
    assert got[("hotline_active_calls", (("channel", "phone"),))] == 0
    assert got[("hotline_turns_total", (("action", "answer"), ("language", "de")))] == 1
    assert sum(v for (name, _), v in got.items() if name == "hotline_unanswered_turns_total") == 1
    assert got[("hotline_voice_to_voice_seconds_count", (("channel", "phone"),))] == 2
    assert got[("hotline_voice_to_voice_seconds_bucket", (("channel", "phone"), ("le", "0.75")))] == 2
    assert got[("hotline_voice_to_voice_seconds_bucket", (("channel", "phone"), ("le", "0.5")))] == 0
    for stage in ("speech_recognition", "retrieval", "first_answer_audio"):
        assert got[("hotline_stage_seconds_count", (("stage", stage),))] == 2, stage
    assert got[("hotline_phone_lines", ())] == 8
    assert got[("hotline_store_journal_depth", ())] == 0
    assert got[("hotline_recognition_queue", ())] == 0
    assert got[("hotline_errors_total", (("kind", "store"),))] == 0


def test_no_words_of_a_caller_reach_the_metrics(dialogue):
    metrics = HotlineMetrics()
    asyncio.run(a_call(metrics, dialogue, ["Mein Name ist Erika Mustermann, wo melde ich mich an?"], "goodbye"))
    text = metrics.exposition().decode()
    assert "Mustermann" not in text and "Erika" not in text


def test_a_store_that_fails_is_counted_as_an_error_and_the_call_goes_on(dialogue):
    class BrokenStore:
        def start_call(self, call):
            pass

        def add_turn(self, call_id, turn):
            raise ConnectionError("database down")

    async def call() -> None:
        recorder = Recorder(BrokenStore(), "c", "widget", lambda: TUESDAY_10, metrics)
        reply = dialogue.respond(Conversation.in_language("de"), "Was kostet das Deutschlandticket?", TUESDAY_10)
        recorder.decided(0, reply, None, None, cut=False)
        recorder.ended(0, "played")
        await recorder.flush()  # writes leave the call at once and reach the store from a worker

    metrics = HotlineMetrics()
    asyncio.run(call())
    # The turn was written twice (when decided, when played): both failures are counted.
    assert samples(metrics.exposition().decode())[("hotline_errors_total", (("kind", "store"),))] == 2


def test_metrics_are_served_to_a_loopback_scraper_and_to_nobody_else(settings, dialogue):
    app = create_app(Services(settings=settings, dialogue=dialogue))
    with running(app, "metrics") as url:
        response = httpx.get(url + "/metrics")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        assert "hotline_active_calls" in response.text
        samples(response.text)
        # Through a proxy on the same host: the request is not local, whatever address it comes from.
        assert httpx.get(url + "/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
    with TestClient(app) as client:  # the test client's address is no loopback address
        assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize(("header", "status"), [(f"Bearer {TOKEN}", 200), ("Bearer wrong-token-000000", 404),
                                                (None, 404)])
def test_with_a_token_configured_metrics_need_it(dialogue, header, status):
    settings = load_settings(overrides={"metrics.token": TOKEN})
    with TestClient(create_app(Services(settings=settings, dialogue=dialogue))) as client:
        response = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == status


def test_a_call_that_ends_before_it_began_is_counted_but_never_active():
    metrics = HotlineMetrics()
    asyncio.run(Recorder(None, "early", "phone", lambda: TUESDAY_10, metrics).end("hung_up"))
    got = samples(metrics.exposition().decode())
    assert got[("hotline_active_calls", (("channel", "phone"),))] == 0
    assert got[("hotline_calls_total", (("channel", "phone"), ("outcome", "hung_up")))] == 1
