"""Staff sessions for the review UI, CSRF tokens, the login throttle and the bound on password hashing.

Before login a browser holds only a signed cookie: a CSRF token for the login form and the UI language. At
login the server opens a session in the database and the cookie then carries the session's random token (the
table keeps only its sha256). Logout, a password change and a removed user delete sessions, so they end on
every instance at once. Failed logins are counted in the database too: per name and address, per name from
any address, and overall, so a second instance neither forgets nor splits the count.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "review_session"
SESSION_MAX_AGE_S = 10 * 3600  # a working day; then log in again
MIN_SECRET = 16
SECRET_NAME = "session"  # the review_secrets row that signs the login form's cookie


@dataclass(frozen=True)
class StaffSession:
    csrf: str
    lang: str = "en"
    user: str | None = None  # None before login: the login form still needs a CSRF token and a language
    token: str | None = None  # the server-side session's token, once logged in

    @classmethod
    def anonymous(cls, lang: str = "en") -> StaffSession:
        return cls(csrf=secrets.token_urlsafe(32), lang=lang)

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf.encode(), str(token).encode())


@dataclass(frozen=True)
class OpenSession:
    """A session row as the table gives it back."""

    user: str
    csrf: str
    lang: str


class SessionTable(Protocol):
    """Where sessions live (`review.accounts.StaffAccounts` on the transcript database)."""

    def open_session(self, key: str, user: str, csrf: str, lang: str, created: datetime,
                     expires: datetime) -> bool: ...

    def find_session(self, key: str, now: datetime) -> OpenSession | None: ...

    def set_session_language(self, key: str, lang: str) -> None: ...

    def end_session(self, key: str) -> None: ...


def session_key(token: str) -> str:
    """What the table stores for a cookie's token: a reader of the database cannot log in with it."""
    return hashlib.sha256(token.encode()).hexdigest()


class SessionCodec:
    """Signs what the cookie carries: the anonymous state before login, the session token after."""

    def __init__(self, secret_key: str, max_age_s: int = SESSION_MAX_AGE_S):
        if len(secret_key) < MIN_SECRET:
            raise ValueError(f"the review secret key must have at least {MIN_SECRET} characters; "
                             "set review.secret_key to a long random string, or leave it unset to use the one "
                             "kept in the database")
        self._serializer = URLSafeTimedSerializer(secret_key, salt="review-session")
        self.max_age_s = max_age_s

    def dumps(self, session: StaffSession) -> str:
        if session.token:
            return self._serializer.dumps({"t": session.token})
        return self._serializer.dumps({"c": session.csrf, "l": session.lang})

    def loads(self, cookie: str | None) -> StaffSession | None:
        """The cookie's content; a logged-in session comes back with its token only (look it up)."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age_s)
        except BadSignature:  # includes SignatureExpired
            return None
        if not isinstance(data, dict):
            return None
        if isinstance(data.get("t"), str):
            return StaffSession(csrf="", token=data["t"])
        if not isinstance(data.get("c"), str):
            return None
        return StaffSession(csrf=data["c"], lang=str(data.get("l") or "en"))


class SessionBook:
    """Staff sessions as the review UI uses them: read from a cookie, opened at login, ended at logout."""

    def __init__(self, codec: SessionCodec, table: SessionTable,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.codec = codec
        self.table = table
        self.clock = clock

    @property
    def max_age_s(self) -> int:
        return self.codec.max_age_s

    def cookie(self, session: StaffSession) -> str:
        return self.codec.dumps(session)

    def load(self, cookie: str | None) -> StaffSession | None:
        """The session a cookie stands for; None when there is none, or it was ended (on any instance)."""
        session = self.codec.loads(cookie)
        if session is None or session.token is None:
            return session
        found = self.table.find_session(session_key(session.token), self.clock())
        if found is None:
            return None
        return StaffSession(csrf=found.csrf, lang=found.lang, user=found.user, token=session.token)

    def log_in(self, session: StaffSession, user: str) -> StaffSession | None:
        """A new server-side session (a fresh CSRF token: one seen before login is worth nothing after it);
        None when the user was removed in the meantime."""
        token, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), self.clock()
        expires = now + timedelta(seconds=self.codec.max_age_s)
        if not self.table.open_session(session_key(token), user, csrf, session.lang, now, expires):
            return None
        return StaffSession(csrf=csrf, lang=session.lang, user=user, token=token)

    def log_out(self, session: StaffSession) -> StaffSession:
        if session.token:
            self.table.end_session(session_key(session.token))
        return StaffSession.anonymous(session.lang)

    def with_lang(self, session: StaffSession, lang: str) -> StaffSession:
        if session.token:
            self.table.set_session_language(session_key(session.token), lang)
        return replace(session, lang=lang)


# --- the login throttle ---------------------------------------------------------------------------------

class FailureLog(Protocol):
    """Failed logins, shared by every instance (`review.accounts.StaffAccounts`)."""

    def add_failure(self, name: str, address: str, at: datetime, forget_before: datetime) -> None: ...

    def failures_since(self, since: datetime, name: str | None = None,
                       address: str | None = None) -> tuple[int, datetime | None]: ...

    def clear_failures(self, name: str, address: str) -> None: ...


@dataclass(frozen=True)
class Limit:
    """At most `failures` failed logins within `window_s`; then locked until `window_s` after the last one."""

    failures: int
    window_s: float


@dataclass(frozen=True)
class ThrottleRules:
    # One guesser at one name: the lock a user who forgot their password meets.
    per_address: Limit = Limit(5, 300.0)
    # Many addresses at one name (a botnet): slower, but still far from a dictionary's worth a day.
    per_name: Limit = Limit(20, 900.0)
    # Many names from many addresses: all logins pause; staff already logged in keep working.
    overall: Limit = Limit(200, 300.0)


class LoginThrottle:
    """Refuses logins for a while after too many failures: per (name, address), per name, and overall."""

    def __init__(self, failures: FailureLog, rules: ThrottleRules | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.failures = failures
        self.rules = rules or ThrottleRules()
        self.clock = clock  # Unix time: instances compare their failures with each other's

    def locked_for(self, user: str, address: str) -> float:
        """Seconds until this user may try again from this address (0 when not locked)."""
        now = self.clock()
        name = _name(user)
        checks = ((self.rules.per_address, name, address[:64]), (self.rules.per_name, name, None),
                  (self.rules.overall, None, None))
        wait = 0.0
        for limit, by_name, by_address in checks:
            count, latest = self.failures.failures_since(_moment(now - limit.window_s), by_name, by_address)
            if count >= limit.failures and latest is not None:
                wait = max(wait, latest.timestamp() + limit.window_s - now)
        return wait

    def failed(self, user: str, address: str) -> None:
        now = self.clock()
        longest = max(self.rules.per_address.window_s, self.rules.per_name.window_s, self.rules.overall.window_s)
        self.failures.add_failure(_name(user), address[:64], _moment(now), forget_before=_moment(now - longest))

    def succeeded(self, user: str, address: str) -> None:
        self.failures.clear_failures(_name(user), address[:64])


def _name(user: str) -> str:
    return user.strip().lower()[:100]


def _moment(unix_s: float) -> datetime:
    return datetime.fromtimestamp(unix_s, UTC)


# --- bounded password hashing ----------------------------------------------------------------------------

class PasswordGate:
    """At most `concurrency` password checks at once (argon2id: ~64 MiB and a core each), `queue` waiting, and
    `per_min` a minute overall (`burst` of them at once).

    A login beyond that is refused at once instead of queueing: a flood of logins must not take the CPU and
    memory that live calls need. The bound at once keeps the memory in check; the bound per minute the CPU: one
    check at a time, back to back, would still hold a core for as long as the flood lasts.

    >>> gate = PasswordGate(concurrency=1, queue=8, per_min=60, burst=10)
    >>> with gate.admitted() as admitted:
    ...     ok = admitted and store.verify_user(name, password)   # doctest: +SKIP
    """

    def __init__(self, concurrency: int = 1, queue: int = 8, wait_s: float = 10.0, per_min: float = 60.0,
                 burst: int = 10, clock: Callable[[], float] = time.monotonic) -> None:
        self.concurrency, self.queue, self.wait_s = concurrency, queue, wait_s
        self.per_s, self.burst, self.clock = per_min / 60, burst, clock
        self._running = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._inside = 0  # running and waiting
        self._checks, self._at = float(burst), clock()  # the checks saved up, as of `_at`

    def _take_check(self) -> bool:
        now = self.clock()
        self._checks = min(float(self.burst), self._checks + (now - self._at) * self.per_s)
        self._at = now
        if self._checks < 1:
            return False
        self._checks -= 1
        return True

    @contextmanager
    def admitted(self) -> Iterator[bool]:
        with self._lock:
            if self._inside >= self.concurrency + self.queue or not self._take_check():
                full = True
            else:
                full = False
                self._inside += 1
        if full:
            yield False
            return
        try:
            if not self._running.acquire(timeout=self.wait_s):
                yield False
                return
            try:
                yield True
            finally:
                self._running.release()
        finally:
            with self._lock:
                self._inside -= 1
