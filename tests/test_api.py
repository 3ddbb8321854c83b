"""The HTTP server: health, the ask endpoint (same JSON as the CLI) and its OpenAPI docs."""

import pytest
from fastapi.testclient import TestClient

from hotline.app import Services, create_app
from hotline.settings import ApiConfig


@pytest.fixture(scope="module")
def client(settings, dialogue):
    with TestClient(create_app(Services(settings=settings, dialogue=dialogue))) as client:
        yield client


def test_healthz_reports_ok_and_the_knowledge_base(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["topics"] >= 30
    assert "address" in body["example_values"]


def test_ask_answers_like_the_cli(client):
    body = client.post("/api/ask", json={"text": "Ile kosztuje kurs integracyjny?", "at": "2026-12-01T10:00"}).json()
    assert (body["language"], body["action"], body["topic"]) == ("pl", "answer", "integration-course")


def test_ask_rejects_an_unserved_language_and_a_bad_time(client):
    assert client.post("/api/ask", json={"text": "hi", "lang": "xx"}).status_code == 422
    assert client.post("/api/ask", json={"text": "hi", "at": "tomorrow"}).status_code == 422


def test_openapi_documents_the_ask_endpoint(client):
    assert "/api/ask" in client.get("/openapi.json").json()["paths"]


def test_ask_from_one_address_is_refused_after_the_burst_and_told_when_to_come_back(settings, dialogue):
    strict = settings.model_copy(update={"api": ApiConfig(ask_per_min=1, ask_burst=3)})
    app = create_app(Services(settings=strict, dialogue=dialogue))
    question = {"text": "Wo melde ich meine Wohnung an?", "at": "2026-12-01T10:00"}
    with TestClient(app) as visitor:
        assert [visitor.post("/api/ask", json=question).status_code for _ in range(3)] == [200, 200, 200]
        refused = visitor.post("/api/ask", json=question)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.json()["detail"].startswith("too many questions from this address (at most 3 at once")
        assert visitor.get("/healthz").status_code == 200  # only the questions are limited
        # Another address has its own allowance.
        neighbour = TestClient(app, client=("203.0.113.7", 50000))
        assert neighbour.post("/api/ask", json=question).status_code == 200
