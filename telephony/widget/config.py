"""The widget's operator settings: which sites may open the socket, and how much one visitor may use it.

Validated once, like every other section of `config/hotline.yaml`. Until `Settings` has a `widget:` section,
`WidgetConfig.from_settings` falls back to these defaults plus the server's own public origin.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

# The loopback origins a developer uses with `make run`: any port.
LOOPBACK_ORIGINS = ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*")
_ORIGIN = re.compile(r"^https?://(\*\.)?[A-Za-z0-9.\-\[\]:]+(:(\d{1,5}|\*))?$")


class WidgetConfig(BaseModel):
    """Limits per browser session and the socket's origin allow-list.

    >>> WidgetConfig(allowed_origins=("https://www.welcomecenter-mittelhessen.de",), session_limit_s=600)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Pages allowed to open /widget/ws: "https://example.org", "https://*.example.org", "http://host:*".
    # The server's own origin (public_url, and the Host the page was served from) is always allowed.
    allowed_origins: tuple[str, ...] = LOOPBACK_ORIGINS
    session_limit_s: float = Field(default=900, ge=1, le=4 * 3600)  # one visitor's conversation at most
    idle_limit_s: float = Field(default=180, ge=1, le=3600)  # no message at all for this long ends it
    # The first message must come this soon: the widget sends it the moment the socket opens, and a socket
    # that stays silent holds a place that a visitor could have.
    hello_timeout_s: float = Field(default=3, gt=0, le=120)
    max_sessions: int = Field(default=16, ge=1, le=1000)  # concurrent sockets; more are refused
    # Concurrent sockets from one client address, counted from the moment each opens (before its hello), so
    # that one address cannot take every place. A household or an office behind one router needs a few.
    max_sessions_per_address: int = Field(default=4, ge=1, le=1000)
    max_audio_frame_bytes: int = Field(default=32_000, ge=640, le=1_000_000)  # 1 s of 16 kHz PCM16
    max_text_frame_bytes: int = Field(default=4_096, ge=256, le=65_536)
    messages_per_s: float = Field(default=50, gt=0)  # sustained; the burst is twice this
    audio_bytes_per_s: float = Field(default=48_000, gt=0)  # 1.5x real time; the burst is 4 s of audio
    questions_per_min: float = Field(default=20, gt=0)  # typed questions (the burst is 5)
    max_callbacks: int = Field(default=3, ge=0, le=20)  # callback requests per session

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if not _ORIGIN.match(origin):
                raise ValueError(f"{origin!r} is not an origin such as https://www.example.org or http://localhost:*"
                                 " (scheme and host, optional port, no path)")
        return tuple(origin.lower().rstrip("/") for origin in value)

    @classmethod
    def from_settings(cls, settings: Any) -> WidgetConfig:
        """`settings.widget` when the settings have that section, else the defaults."""
        section = getattr(settings, "widget", None)
        if section is None:
            return cls()
        if isinstance(section, WidgetConfig):
            return section
        data = section.model_dump() if isinstance(section, BaseModel) else dict(section)
        return cls.model_validate(data)


def origin_of(url: str) -> str:
    """'https://host[:port]' of a URL, lower-cased, default ports dropped."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme.lower()}://{host}{port}"


class OriginPolicy:
    """Decides whether a page at `Origin` may talk to the widget socket.

    >>> policy = OriginPolicy(("https://*.example.org", "http://localhost:*"), own=("https://hotline.example.org",))
    >>> policy.allows("https://www.example.org", host="hotline.example.org", secure=True)
    True
    """

    def __init__(self, allowed: tuple[str, ...], own: tuple[str, ...] = ()) -> None:
        self._exact: set[str] = {origin_of(o) for o in own}
        self._patterns: list[re.Pattern[str]] = []
        for origin in allowed:
            if "*" in origin:
                pattern = re.escape(origin).replace(r"\*\.", r"[a-z0-9\-]+(\.[a-z0-9\-]+)*\.")
                pattern = pattern.replace(r":\*", r"(:\d{1,5})?")
                self._patterns.append(re.compile(f"^{pattern}$"))
            else:
                self._exact.add(origin_of(origin))

    def allows(self, origin: str | None, *, host: str | None = None, secure: bool = False) -> bool:
        """True for an allowed origin, or the origin of the host that served the page (same origin)."""
        if not origin or origin == "null":
            return False
        try:
            normalized = origin_of(origin)
        except ValueError:
            return False
        if normalized != origin.lower().rstrip("/"):
            return False  # a path, credentials or odd spelling: not an origin a browser sends
        if host:
            try:
                if normalized == origin_of(f"{'https' if secure else 'http'}://{host}"):
                    return True
            except ValueError:  # a Host header no browser sends ('[::1', 'a:99999'): not the same origin then
                pass
        return normalized in self._exact or any(p.match(normalized) for p in self._patterns)
