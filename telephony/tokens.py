"""Per-call tokens for the media socket: the `<Stream>` TwiML carries one, the socket's `start` message returns it.

The WebSocket upgrade from Twilio is not signed, so without a token anyone who finds `/twilio/media` could open
a "call". The token is minted only in answer to a signed webhook, is bound to that webhook's CallSid, and
expires after a couple of minutes (Twilio connects within a second or two). It is an HMAC over a small JSON
payload that anyone holding the token can read, so it carries nothing personal: the caller's number stays on the
server with the call's slot (`telephony.capacity`).

>>> tokens = StreamTokens.from_auth_token("secret")
>>> token = tokens.issue(StreamGrant(call_sid="CA123", language="de"))
>>> tokens.verify(token, call_sid="CA123").language
'de'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

DEFAULT_TTL_S = 120.0
# Resume modes: a fresh call hears the greeting; a caller back from an unanswered transfer hears a callback offer.
RESUME_GREETING = "greeting"
RESUME_CALLBACK = "callback"


class InvalidStreamToken(ValueError):
    """The token is missing, forged, expired or for another call; the message says which (for the log)."""


@dataclass(frozen=True)
class StreamGrant:
    call_sid: str
    language: str | None = None  # known when the caller comes back from a transfer
    resume: str = RESUME_GREETING
    expires_at: float = 0.0  # Unix time; set by `issue`


class StreamTokens:
    def __init__(self, key: bytes, ttl_s: float = DEFAULT_TTL_S, now: Callable[[], float] = time.time) -> None:
        self._key = key
        self.ttl_s = ttl_s
        self._now = now

    @classmethod
    def from_auth_token(cls, auth_token: str, ttl_s: float = DEFAULT_TTL_S) -> StreamTokens:
        # A key derived for this one purpose: the auth token itself never signs anything of ours.
        key = hmac.new(auth_token.encode(), b"hotline media stream token v1", hashlib.sha256).digest()
        return cls(key, ttl_s)

    def issue(self, grant: StreamGrant) -> str:
        data = asdict(grant) | {"expires_at": round(self._now() + self.ttl_s, 3)}
        payload = _b64(json.dumps(data, separators=(",", ":"), sort_keys=True).encode())
        return f"{payload}.{self._sign(payload)}"

    def verify(self, token: object, call_sid: str) -> StreamGrant:
        """The grant a token carries, or InvalidStreamToken: whatever a stranger sends (any type, any characters)
        ends here and never as another exception."""
        if not token:
            raise InvalidStreamToken("no token")
        if not isinstance(token, str) or not token.isascii():
            raise InvalidStreamToken("not a token (wrong type or characters)")
        payload, _, signature = token.partition(".")
        if not payload or not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            raise InvalidStreamToken("bad signature")
        try:
            grant = StreamGrant(**json.loads(_unb64(payload)))
            expires_at, granted_sid = float(grant.expires_at), str(grant.call_sid)
        except (ValueError, TypeError) as exc:
            raise InvalidStreamToken(f"unreadable payload ({type(exc).__name__})") from None
        if expires_at < self._now():
            raise InvalidStreamToken("expired")
        if not hmac.compare_digest(granted_sid.encode(), call_sid.encode()):
            raise InvalidStreamToken("issued for another call")
        return grant

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
