"""The configuration the channels need: Twilio, the public address, transfers, call limits, the widget.

`hotline.settings` composes these sections; the channels see the whole through `TelephonySettings`.
"""

from __future__ import annotations

import ipaddress
from typing import Protocol
from urllib.parse import urlsplit

from pydantic import Field

from pipeline.config import PipelineSettings, Section
from telephony.widget.config import WidgetConfig


class Transfer(Section):
    staff_number: str = Field(pattern=r"^\+[1-9]\d{6,14}$")
    caller_id: str | None = None
    ring_timeout_s: int = Field(default=25, ge=5, le=120)


class Server(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = Field(default="http://127.0.0.1:8000", pattern=r"^https?://[^\s/]+(/.*)?$")
    # This server's name among several behind one proxy (a, b, ...): the media stream URL offered to Twilio
    # then names it (/twilio/media/a), so the proxy sends the call's audio to the instance that took the call.
    instance: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")


class Twilio(Section):
    account_sid: str = "AC00000000000000000000000000000000"
    auth_token: str = "change-me"
    api_base_url: str = Field(default="https://api.twilio.com", pattern=r"^https?://")
    # The Twilio number (or alphanumeric sender ID) text messages with links come from; None: no SMS offered.
    sms_from: str | None = Field(default=None, pattern=r"^(\+[1-9]\d{6,14}|[A-Za-z0-9 ]{1,11})$")


PLACEHOLDER_AUTH_TOKENS = frozenset({"", "change-me"})


def serving_refusal(twilio: Twilio, server: Server) -> str | None:
    """Why the phone line must not be served with these settings, or None. The shipped placeholder auth token is
    fine on a loopback address (local runs, the simulator) but anyone who knows it could sign webhooks and mint
    media tokens on a public one."""
    if twilio.auth_token not in PLACEHOLDER_AUTH_TOKENS or _loopback(server.public_url):
        return None
    return (f"twilio.auth_token is the shipped placeholder {twilio.auth_token!r} but server.public_url "
            f"{server.public_url} is not a loopback address: set TWILIO_AUTH_TOKEN (or twilio.auth_token in "
            "config/hotline.yaml) to the auth token of your Twilio account")


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class TelephonyConfig(Section):
    max_concurrent_calls: int = Field(default=8, ge=1, le=1000)
    max_call_minutes: float = Field(default=15.0, ge=1.0, le=240.0)
    silence_prompt_s: float = Field(default=12.0, ge=3.0, le=120.0)
    # The language menu is not part of the welcome: it plays when the caller says nothing this long after it.
    menu_after_silence_s: float = Field(default=4.0, ge=1.0, le=60.0)
    # The welcome's voices this much faster than the answers': every caller hears it before they may ask.
    welcome_pace: float = Field(default=1.15, ge=0.8, le=1.5)


class TelephonySettings(PipelineSettings, Protocol):
    """What the phone line and the widget read of the composed settings."""

    @property
    def transfer(self) -> Transfer: ...
    @property
    def server(self) -> Server: ...
    @property
    def twilio(self) -> Twilio: ...
    @property
    def telephony(self) -> TelephonyConfig: ...
    @property
    def widget(self) -> WidgetConfig: ...
