"""Logins kept in the database: what one instance learns about a login, every other instance on it knows.

Each test opens the same database twice, as two servers would, and runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from review.auth import LoginThrottle, SessionBook, SessionCodec, StaffSession, ThrottleRules
from review.store import TranscriptStore
from tests.review.conftest import FAST_ARGON2

SECRET = "test-secret-key-that-is-long-enough"
PASSWORD = "correct horse battery"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def two_instances(database_url: str) -> Iterator[tuple[TranscriptStore, TranscriptStore]]:
    first = TranscriptStore(database_url, password_hasher=FAST_ARGON2)
    second = TranscriptStore(database_url, password_hasher=FAST_ARGON2)
    first.add_user("anna", PASSWORD)
    yield first, second
    first.close()
    second.close()


def books(stores: tuple[TranscriptStore, TranscriptStore]) -> tuple[SessionBook, SessionBook]:
    return tuple(SessionBook(SessionCodec(SECRET), store.accounts, clock=lambda: NOW) for store in stores)


def test_a_login_on_one_instance_is_valid_on_the_other_and_a_logout_ends_it_on_both(two_instances) -> None:
    one, other = books(two_instances)
    session = one.log_in(StaffSession.anonymous("de"), "anna")
    assert session is not None
    cookie = one.cookie(session)
    seen = other.load(cookie)
    assert seen is not None and (seen.user, seen.lang, seen.csrf) == ("anna", "de", session.csrf)
    other.log_out(seen)
    assert one.load(cookie) is None and other.load(cookie) is None


def test_a_session_ends_after_its_lifetime(two_instances) -> None:
    store = two_instances[0]
    moment = [NOW]
    book = SessionBook(SessionCodec(SECRET, max_age_s=3600), store.accounts, clock=lambda: moment[0])
    cookie = book.cookie(book.log_in(StaffSession.anonymous(), "anna"))
    moment[0] = NOW.replace(minute=59)
    assert book.load(cookie) is not None
    moment[0] = NOW.replace(hour=10, minute=1)
    assert book.load(cookie) is None


def test_a_password_change_or_removal_on_one_instance_ends_the_sessions_on_the_other(two_instances) -> None:
    one, other = books(two_instances)
    cookies = [one.cookie(one.log_in(StaffSession.anonymous(), "anna")) for _ in range(2)]
    assert two_instances[1].accounts.set_password("anna", "a brand new passphrase") == 2
    assert [other.load(cookie) for cookie in cookies] == [None, None]
    cookie = one.cookie(one.log_in(StaffSession.anonymous(), "anna"))
    two_instances[1].accounts.remove_user("anna")
    assert one.load(cookie) is None
    assert one.log_in(StaffSession.anonymous(), "anna") is None  # removed between password check and session
    assert two_instances[0].list_users() == []


def test_failed_logins_counted_on_one_instance_lock_the_name_on_the_other(two_instances) -> None:
    clock = FakeClock()
    one, other = (LoginThrottle(store.accounts, clock=clock) for store in two_instances)
    for _ in range(5):
        one.failed("Anna", "203.0.113.7")
        clock.now += 10
    assert other.locked_for("anna ", "203.0.113.7") > 250  # the name is folded; the lock is shared
    assert other.locked_for("anna", "198.51.100.1") == 0  # another address may still try
    clock.now += 301
    assert other.locked_for("anna", "203.0.113.7") == 0


def test_one_name_guessed_from_many_addresses_is_locked_for_every_address(two_instances) -> None:
    clock = FakeClock()
    throttle = LoginThrottle(two_instances[0].accounts, clock=clock)
    for address in range(20):  # a botnet: four tries each, never five from one address
        throttle.failed("anna", f"198.51.100.{address}")
        clock.now += 1
    assert throttle.locked_for("anna", "192.0.2.1") > 800  # per name: 20 in 15 minutes
    assert throttle.locked_for("ben", "192.0.2.1") == 0


def test_a_flood_over_many_names_pauses_every_login_for_a_while(two_instances) -> None:
    clock = FakeClock()
    rules = ThrottleRules()
    throttle = LoginThrottle(two_instances[1].accounts, rules, clock=clock)
    for n in range(rules.overall.failures):
        throttle.failed(f"user{n}", f"198.51.{n // 250}.{n % 250}")
    assert throttle.locked_for("anna", "192.0.2.1") > 0
    clock.now += rules.overall.window_s + 1
    assert throttle.locked_for("anna", "192.0.2.1") == 0


def test_a_successful_login_clears_only_its_own_address(two_instances) -> None:
    clock = FakeClock()
    throttle = LoginThrottle(two_instances[0].accounts, clock=clock)
    for _ in range(4):
        throttle.failed("anna", "203.0.113.7")
        throttle.failed("anna", "198.51.100.1")
    throttle.succeeded("anna", "203.0.113.7")
    throttle.failed("anna", "198.51.100.1")
    assert throttle.locked_for("anna", "198.51.100.1") > 0 and throttle.locked_for("anna", "203.0.113.7") == 0


def test_every_instance_gets_the_same_secret_from_the_database(two_instances) -> None:
    first, second = (store.accounts.shared_secret("session") for store in two_instances)
    assert first == second and len(first) >= 32
    assert two_instances[0].accounts.shared_secret("other") != first
