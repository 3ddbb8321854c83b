"""Changing a live call through Twilio's REST API, with the real `twilio` client.

The client talks to `twilio.api_base_url`: https://api.twilio.com in production, a local fake in tests. The
`twilio` library keeps each API domain's root in `Domain.base_url`; `client.api` is the domain that owns
`/2010-04-01/Accounts/.../Calls`, so setting its `base_url` redirects exactly the calls we make and nothing
else (no monkey-patching, no custom HTTP client).
"""

from __future__ import annotations

import asyncio
import logging

from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

log = logging.getLogger("hotline.twilio")
REST_TIMEOUT_S = 10.0


class CallControlError(RuntimeError):
    pass


class CallControl:
    def __init__(self, account_sid: str, auth_token: str, api_base_url: str = "https://api.twilio.com",
                 timeout_s: float = REST_TIMEOUT_S) -> None:
        self.client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout_s))
        self.client.api.base_url = api_base_url.rstrip("/")
        # The library would rewrite the host for TWILIO_EDGE/TWILIO_REGION from the environment; settings decide.
        self.client.edge = self.client.region = None

    async def update(self, call_sid: str, twiml: str) -> None:
        """Replace what the live call is doing with `twiml` (the media stream, if any, ends)."""
        try:
            await asyncio.to_thread(lambda: self.client.calls(call_sid).update(twiml=twiml))
        except TwilioException as exc:
            raise CallControlError(f"call {call_sid}: Twilio refused the update: {exc}") from exc
        except OSError as exc:  # requests' connection errors derive from it
            raise CallControlError(f"call {call_sid}: Twilio API unreachable: {exc}") from exc

    async def hang_up(self, call_sid: str) -> None:
        try:
            await asyncio.to_thread(lambda: self.client.calls(call_sid).update(status="completed"))
        except (TwilioException, OSError) as exc:
            raise CallControlError(f"call {call_sid}: could not hang up: {exc}") from exc
