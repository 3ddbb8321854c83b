"""The review UI over HTTP: sessions, CSRF, lockout, the pages and what they show."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from knowledge.topics import Topic
from pipeline.records import CallRecord, SourceRecord
from review.auth import LoginThrottle, PasswordGate
from review.store import TranscriptStore
from review.web import create_review_router
from tests.review.seed import NOW, seed_calls, turn

SECRET = "test-secret-key-that-is-long-enough"
PASSWORD = "correct horse battery"
PAGES = ["/review", "/review/calls", "/review/calls/call-de-answered", "/review/flags", "/review/callbacks",
         "/review/gaps", "/review/dashboard", "/review/export.csv", "/review/export.json"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(sqlite_store: TranscriptStore, clock: FakeClock) -> Iterator[TestClient]:
    seed_calls(sqlite_store)
    sqlite_store.add_user("anna", PASSWORD)
    app = FastAPI()
    app.include_router(create_review_router(sqlite_store, SECRET, throttle=LoginThrottle(sqlite_store.accounts,
                                                                                         clock=clock),
                                            clock=lambda: NOW))
    with TestClient(app) as test_client:
        yield test_client


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def log_in(client: TestClient, user: str = "anna", password: str = PASSWORD):
    token = csrf(client.get("/review/login").text)
    return client.post("/review/login", data={"username": user, "password": password, "csrf_token": token},
                       follow_redirects=False)


@pytest.mark.parametrize("path", PAGES)
def test_without_a_session_a_browser_gets_the_login_page(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/review/login?next=")
    page = client.get(path)
    assert page.url.path == "/review/login" and 'name="password"' in page.text
    assert "Aufenthaltstitel" not in page.text and "call-de-answered" not in page.text.split("next")[0]


@pytest.mark.parametrize("path", ["/review/api/calls", "/review/api/calls/call-de-answered", "/review/api/stats"])
def test_without_a_session_an_api_request_gets_401(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 401 and "login" in response.json()["detail"]
    assert "Aufenthaltstitel" not in response.text


def test_a_request_asking_for_json_gets_401_not_a_redirect(client: TestClient) -> None:
    response = client.get("/review/calls", headers={"Accept": "application/json"}, follow_redirects=False)
    assert response.status_code == 401


def test_logging_in_opens_the_calls_list_with_a_safe_session_cookie(client: TestClient) -> None:
    response = log_in(client)
    assert response.status_code == 303 and response.headers["location"] == "/review/calls"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax") and "Path=/review" in cookie
    page = client.get("/review/calls")
    assert page.status_code == 200 and "Aufenthaltstitel" in page.text and "anna" in page.text
    for path in PAGES[1:]:
        assert client.get(path).status_code == 200, path
    assert client.get("/review/api/calls").json()["total"] == 6


def test_after_login_the_page_asked_for_is_shown_but_never_another_site(client: TestClient) -> None:
    page = client.get("/review/login?next=/review/flags")
    token = csrf(page.text)
    response = client.post("/review/login", follow_redirects=False, data={
        "username": "anna", "password": PASSWORD, "csrf_token": token, "next": "/review/flags"})
    assert response.headers["location"] == "/review/flags"
    client.cookies.clear()
    token = csrf(client.get("/review/login").text)
    response = client.post("/review/login", follow_redirects=False, data={
        "username": "anna", "password": PASSWORD, "csrf_token": token, "next": "//evil.example/x"})
    assert response.headers["location"] == "/review/calls"


def test_a_wrong_password_is_refused(client: TestClient) -> None:
    response = log_in(client, password="wrong password")
    assert response.status_code == 401 and "Wrong user name or password" in response.text
    assert client.get("/review/calls", follow_redirects=False).status_code == 303


def test_login_without_the_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/review/login")
    response = client.post("/review/login", data={"username": "anna", "password": PASSWORD},
                           follow_redirects=False)
    assert response.status_code == 403 and "expired" in response.text
    assert client.get("/review/calls", follow_redirects=False).status_code == 303


def test_a_post_without_the_sessions_csrf_token_changes_nothing(client: TestClient,
                                                                sqlite_store: TranscriptStore) -> None:
    log_in(client)
    turn_id = sqlite_store.get_call("call-de-answered").turns[0].id
    for token in ("", "forged-token"):
        response = client.post("/review/calls/call-de-answered/flag",
                               data={"turn_id": turn_id, "note": "x", "csrf_token": token})
        assert response.status_code == 403 and "expired" in response.text
        response = client.post(f"/review/callbacks/{sqlite_store.list_callbacks()[0].id}/done",
                               data={"csrf_token": token})
        assert response.status_code == 403
    assert sqlite_store.list_flags() == [] and len(sqlite_store.list_callbacks()) == 2


def test_five_failed_logins_lock_the_user_for_five_minutes(client: TestClient, clock: FakeClock) -> None:
    for _ in range(5):
        assert log_in(client, password="guess").status_code == 401
        clock.now += 10
    locked = log_in(client)  # even the right password
    assert locked.status_code == 429 and "Too many failed attempts" in locked.text
    assert log_in(client, user="ben").status_code == 401  # other users are not locked out
    clock.now += 301
    assert log_in(client).status_code == 303


def test_failures_spread_over_more_than_five_minutes_do_not_lock(client: TestClient, clock: FakeClock) -> None:
    for _ in range(8):
        assert log_in(client, password="guess").status_code == 401
        clock.now += 100
    assert log_in(client).status_code == 303


def test_a_tampered_or_foreign_cookie_is_no_session(client: TestClient) -> None:
    log_in(client)
    value = client.cookies.get("review_session")
    client.cookies.clear()
    client.cookies.set("review_session", value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1],
                       path="/review")
    assert client.get("/review/calls", follow_redirects=False).status_code == 303


def test_logging_out_ends_the_session(client: TestClient) -> None:
    log_in(client)
    token = csrf(client.get("/review/calls").text)
    response = client.post("/review/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/review/login"
    assert client.get("/review/calls", follow_redirects=False).status_code == 303


def test_a_session_cookie_kept_after_logout_does_not_open_the_pages_again(client: TestClient) -> None:
    log_in(client)
    kept = client.cookies.get("review_session")
    token = csrf(client.get("/review/calls").text)
    client.post("/review/logout", data={"csrf_token": token})
    client.cookies.clear()
    client.cookies.set("review_session", kept, path="/review")  # a copy taken before logout, replayed
    assert client.get("/review/calls", follow_redirects=False).status_code == 303


def test_a_password_change_ends_the_users_sessions(client: TestClient, sqlite_store: TranscriptStore) -> None:
    log_in(client)
    assert client.get("/review/calls").status_code == 200
    assert sqlite_store.accounts.set_password("anna", "a brand new passphrase") == 1
    assert client.get("/review/calls", follow_redirects=False).status_code == 303
    assert log_in(client).status_code == 401
    assert log_in(client, password="a brand new passphrase").status_code == 303


def test_a_removed_user_is_logged_out_and_cannot_log_in(client: TestClient, sqlite_store: TranscriptStore) -> None:
    log_in(client)
    sqlite_store.accounts.remove_user("anna")
    assert client.get("/review/calls", follow_redirects=False).status_code == 303
    assert log_in(client).status_code == 401


def test_the_ui_language_of_a_logged_in_session_is_kept_with_the_session(client: TestClient) -> None:
    log_in(client)
    assert "Anrufe" in client.get("/review/calls?lang=de").text
    assert "Rückrufe" in client.get("/review/callbacks").text


def test_logins_beyond_the_password_checks_allowed_at_once_are_refused_without_hashing(
        sqlite_store: TranscriptStore) -> None:
    sqlite_store.add_user("anna", PASSWORD)
    gate = PasswordGate(concurrency=1, queue=0)
    app = FastAPI()
    app.include_router(create_review_router(sqlite_store, SECRET, gate=gate, clock=lambda: NOW))
    with TestClient(app) as test_client, gate.admitted() as first:  # one check is running
        assert first
        response = log_in(test_client)
        assert response.status_code == 503 and "try again" in response.text
        assert response.headers["retry-after"] == "30"
    with TestClient(app) as test_client:
        assert log_in(test_client).status_code == 303


def test_a_login_flood_gets_a_few_password_checks_a_minute_however_it_is_spread() -> None:
    clock = FakeClock()
    gate = PasswordGate(concurrency=4, queue=0, per_min=60, burst=3, clock=clock)

    def admitted() -> bool:
        with gate.admitted() as admitted:
            return admitted

    assert [admitted() for _ in range(5)] == [True, True, True, False, False]  # the burst, then no more now
    clock.now += 1.0
    assert [admitted() for _ in range(2)] == [True, False]  # one a second after that
    clock.now += 60
    assert sum(admitted() for _ in range(20)) == 3  # saved up to the burst, not beyond


def test_flagging_an_answer_shows_it_on_the_call_and_in_the_flags_list(client: TestClient,
                                                                      sqlite_store: TranscriptStore) -> None:
    log_in(client)
    page = client.get("/review/calls/call-de-answered")
    turn_id = sqlite_store.get_call("call-de-answered").turns[0].id
    response = client.post("/review/calls/call-de-answered/flag", data={
        "turn_id": turn_id, "note": "Zuständig ist der Kreis", "csrf_token": csrf(page.text)})
    assert response.status_code == 200 and "Zuständig ist der Kreis" in response.text
    assert "flagged as wrong by anna" in response.text.lower()
    assert "Zuständig ist der Kreis" in client.get("/review/flags").text


def test_a_turn_of_another_call_cannot_be_flagged_through_this_one(client: TestClient,
                                                                  sqlite_store: TranscriptStore) -> None:
    log_in(client)
    token = csrf(client.get("/review/calls").text)
    other = sqlite_store.get_call("call-en-transfer").turns[0].id
    response = client.post("/review/calls/call-de-answered/flag",
                           data={"turn_id": other, "note": "x", "csrf_token": token})
    assert response.status_code == 404 and sqlite_store.list_flags() == []


def test_marking_a_callback_done_takes_it_off_the_queue(client: TestClient, sqlite_store: TranscriptStore) -> None:
    log_in(client)
    page = client.get("/review/callbacks")
    assert "+49 171 2345678" in page.text and "Wie verlängere ich meinen Aufenthaltstitel?" in page.text
    first = sqlite_store.list_callbacks()[0]
    response = client.post(f"/review/callbacks/{first.id}/done", data={"csrf_token": csrf(page.text)})
    assert response.status_code == 200 and "Marked as done" in response.text
    assert f'id="callback-{first.id}"' not in response.text
    assert f'id="callback-{first.id}"' in client.get("/review/callbacks?show=done").text


def test_the_calls_list_filters_and_searches_from_the_query_string(client: TestClient) -> None:
    log_in(client)
    page = client.get("/review/calls", params={"action": "transferred"}).text
    assert "blue card" in page and "Aufenthaltstitel" not in page
    page = client.get("/review/calls", params={"q": "aufenthaltstitel", "channel": "phone"}).text
    assert "Aufenthaltstitel" in page and "blue card" not in page
    page = client.get("/review/calls", params={"date_from": "not-a-date"}).text
    assert "date_from?" in page  # a bad value is named, not a crash
    export = client.get("/review/export.csv", params={"language": "en"})
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    assert "call-en-transfer" in export.text and "call-de-answered" not in export.text
    assert client.get("/review/export.json").json()["calls"][0]["id"] == "call-cli-gaps"


def test_the_ui_language_is_chosen_by_query_and_remembered(client: TestClient) -> None:
    log_in(client)
    assert "Calls" in client.get("/review/calls").text
    german = client.get("/review/calls?lang=de").text
    assert '<html lang="de">' in german and "Anrufe" in german
    assert "Rückrufe" in client.get("/review/callbacks").text  # no ?lang any more: still German
    assert "Callbacks" in client.get("/review/callbacks?lang=en").text


def test_everything_callers_said_is_escaped_and_only_web_links_are_links(client: TestClient,
                                                                       sqlite_store: TranscriptStore) -> None:
    sqlite_store.start_call(CallRecord("xss", "widget", NOW))
    sqlite_store.add_turn("xss", turn(0, NOW, "<script>alert(1)</script>", '"><img src=x onerror=alert(2)>',
                                      sources=(SourceRecord("evil", "javascript:alert(3)"),)))
    log_in(client)
    for path in ("/review/calls", "/review/calls/xss", "/review/gaps"):
        html = client.get(path).text
        assert "<script>" not in html and "<img" not in html and 'href="javascript:' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/review/calls/xss").text


def test_pages_forbid_scripts_and_framing_and_are_not_cached(client: TestClient) -> None:
    log_in(client)
    response = client.get("/review/dashboard")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy and "script-src" not in policy
    assert response.headers["cache-control"] == "no-store"
    assert "<svg" in response.text and "<script" not in response.text and "http://" not in response.text.replace(
        "http://www.w3.org/2000/svg", "")


def test_the_dashboard_draws_the_three_charts(client: TestClient) -> None:
    log_in(client)
    html = client.get("/review/dashboard?days=7").text
    assert html.count("<svg") == 3
    assert "Calls per day by language" in html and "p95" in html and "2100" in html


def test_the_dashboard_lists_topics_whose_dated_facts_are_past_or_due_within_30_days(
        sqlite_store: TranscriptStore, clock: FakeClock) -> None:
    today = NOW.astimezone(sqlite_store.timezone).date()
    topics = [Topic(topic_id, topic_id, today - timedelta(days=100), (), {}, valid_until=today + timedelta(days=days))
              for topic_id, days in (("minimum-wage", 10), ("blue-card", -1), ("deutschlandticket", 200))]
    sqlite_store.add_user("anna", PASSWORD)
    app = FastAPI()
    app.include_router(create_review_router(sqlite_store, SECRET, throttle=LoginThrottle(sqlite_store.accounts,
                                                                                         clock=clock),
                                            clock=lambda: NOW, topics=lambda: topics))
    with TestClient(app) as client:
        log_in(client)
        html = client.get("/review/dashboard").text
    assert "Topics to re-check" in html
    assert f"minimum-wage: facts valid until {today + timedelta(days=10)}" in html
    assert f"blue-card: facts expired on {today - timedelta(days=1)}" in html
    assert "deutschlandticket" not in html


def test_the_knowledge_gaps_page_lists_the_groups(client: TestClient) -> None:
    log_in(client)
    html = client.get("/review/gaps").text
    assert "Wo kann ich meine Wohnung anmelden?" in html and "2 questions" in html


def test_an_unknown_call_is_a_404_page(client: TestClient) -> None:
    log_in(client)
    assert client.get("/review/calls/nope").status_code == 404
    assert client.get("/review/api/calls/nope").status_code == 404


def test_a_short_secret_key_is_refused(sqlite_store: TranscriptStore) -> None:
    with pytest.raises(ValueError, match="at least 16 characters"):
        create_review_router(sqlite_store, "short")
