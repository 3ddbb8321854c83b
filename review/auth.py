"""Staff sessions for the review UI: signed cookies, CSRF tokens and a lockout after failed logins.

The session lives entirely in an itsdangerous-signed cookie (user, CSRF token, UI language, issue time):
no server-side table, and a changed secret key logs everybody out.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "review_session"
SESSION_MAX_AGE_S = 10 * 3600  # a working day; then log in again
MIN_SECRET = 16


@dataclass(frozen=True)
class StaffSession:
    csrf: str
    lang: str = "en"
    user: str | None = None  # None before login: the login form still needs a CSRF token and a language

    @classmethod
    def anonymous(cls, lang: str = "en") -> StaffSession:
        return cls(csrf=secrets.token_urlsafe(32), lang=lang)

    def logged_in(self, user: str) -> StaffSession:
        # A fresh token at login, so a token seen before login is worth nothing after it.
        return StaffSession(csrf=secrets.token_urlsafe(32), lang=self.lang, user=user)

    def with_lang(self, lang: str) -> StaffSession:
        return replace(self, lang=lang)

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf.encode(), str(token).encode())


class SessionCodec:
    def __init__(self, secret_key: str, max_age_s: int = SESSION_MAX_AGE_S):
        if len(secret_key) < MIN_SECRET:
            raise ValueError(f"the review secret key must have at least {MIN_SECRET} characters; "
                             "use a long random string (see review.auth.load_or_create_secret)")
        self._serializer = URLSafeTimedSerializer(secret_key, salt="review-session")
        self.max_age_s = max_age_s

    def dumps(self, session: StaffSession) -> str:
        return self._serializer.dumps({"c": session.csrf, "l": session.lang, "u": session.user})

    def loads(self, cookie: str | None) -> StaffSession | None:
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age_s)
        except BadSignature:  # includes SignatureExpired
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        user = data.get("u")
        return StaffSession(csrf=data["c"], lang=str(data.get("l") or "en"),
                            user=user if isinstance(user, str) else None)


@dataclass
class LoginThrottle:
    """At most `max_failures` failed logins per (user, address) within `window_s`; then locked for `window_s`.

    Kept in memory: enough for the single server process the hotline runs; a restart clears it.
    """

    max_failures: int = 5
    window_s: float = 300.0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def locked_for(self, user: str, address: str) -> float:
        """Seconds until this user may try again from this address (0 when not locked)."""
        now = self.clock()
        recent = self._recent((user.strip().lower(), address), now)
        if len(recent) < self.max_failures:
            return 0.0
        return max(0.0, recent[-1] + self.window_s - now)

    def failed(self, user: str, address: str) -> None:
        key = (user.strip().lower(), address)
        now = self.clock()
        self._failures[key] = [*self._recent(key, now), now]
        if len(self._failures) > 10_000:  # keep memory bounded under a spray of made-up names
            for stale in [k for k, times in self._failures.items() if times[-1] + self.window_s < now]:
                del self._failures[stale]

    def succeeded(self, user: str, address: str) -> None:
        self._failures.pop((user.strip().lower(), address), None)

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        return [t for t in self._failures.get(key, []) if t + self.window_s > now]


def load_or_create_secret(path: Path) -> str:
    """The review UI's secret key from `path`, created (random, owner-only) on first use."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(secret, encoding="utf-8")
    return secret
