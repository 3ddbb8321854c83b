"""The HTTP server: health, the ask endpoint (same JSON as the CLI) and its OpenAPI docs."""

import pytest
from fastapi.testclient import TestClient

from hotline.app import Services, create_app


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
