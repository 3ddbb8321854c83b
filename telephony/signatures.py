"""Twilio webhook signatures, checked against the URL Twilio was told to call, not the one we were reached at.

Behind a reverse proxy the request arrives as http://127.0.0.1:8000/twilio/voice while Twilio signed
https://hotline.example.org/twilio/voice, so the URL is rebuilt from the configured public base URL.
"""

from __future__ import annotations

import logging

from starlette.datastructures import FormData
from starlette.requests import Request
from twilio.request_validator import RequestValidator

log = logging.getLogger("hotline.twilio")
SIGNATURE_HEADER = "X-Twilio-Signature"


class WebhookVerifier:
    def __init__(self, auth_token: str, public_url: str) -> None:
        self._validator = RequestValidator(auth_token)
        self.public_url = public_url.rstrip("/")

    def url_for(self, request: Request) -> str:
        """The URL as Twilio requested it: public base + the path below any proxy prefix + the query."""
        path = request.scope["path"]
        root = request.scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        query = request.url.query
        return f"{self.public_url}{path}{'?' + query if query else ''}"

    async def signed_form(self, request: Request) -> FormData | None:
        """The webhook's form fields if the signature is Twilio's, else None (and a log line)."""
        signature = request.headers.get(SIGNATURE_HEADER)
        url = self.url_for(request)
        if not signature:
            log.warning("webhook %s refused: no %s header (client %s)", url, SIGNATURE_HEADER, _client(request))
            return None
        try:
            form = await request.form()
        except Exception as exc:  # noqa: BLE001 - a garbled body is the sender's problem, not a server fault
            log.warning("webhook %s refused: unreadable body (%s)", url, type(exc).__name__)
            return None
        # FormData offers getlist(), which the validator uses for repeated fields.
        try:
            valid = self._validator.validate(url, form, signature)
        except TypeError:  # a file upload among the fields: Twilio never sends one
            valid = False
        if not valid:
            log.warning("webhook %s refused: signature does not match (client %s)", url, _client(request))
            return None
        return form


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"
