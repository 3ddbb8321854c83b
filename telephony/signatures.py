"""Twilio webhook signatures, checked against the URL Twilio was told to call, not the one we were reached at.

Behind a reverse proxy the request arrives as http://127.0.0.1:8000/twilio/voice while Twilio signed
https://hotline.example.org/twilio/voice, so the URL is rebuilt from the configured public base URL.

The body is read with a size limit before anything else looks at it (Twilio's webhooks are a few kilobytes),
and only as the url-encoded form Twilio sends: a stranger's huge or multipart body costs us nothing.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from twilio.request_validator import RequestValidator

log = logging.getLogger("hotline.twilio")
SIGNATURE_HEADER = "X-Twilio-Signature"
MAX_BODY_BYTES = 32 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"webhook body over {limit} bytes")


class WebhookVerifier:
    def __init__(self, auth_token: str, public_url: str, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self._validator = RequestValidator(auth_token)
        self.public_url = public_url.rstrip("/")
        self.max_body_bytes = max_body_bytes

    def url_for(self, request: Request) -> str:
        """The URL as Twilio requested it: public base + the path below any proxy prefix + the query."""
        path = request.scope["path"]
        root = request.scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        query = request.url.query
        return f"{self.public_url}{path}{'?' + query if query else ''}"

    async def signed_form(self, request: Request) -> FormData | None:
        """The webhook's form fields if the signature is Twilio's, else None (and a log line); a body over the
        limit raises BodyTooLarge (413) before it is read to the end."""
        signature = request.headers.get(SIGNATURE_HEADER)
        url = self.url_for(request)
        if not signature:
            log.warning("webhook %s refused: no %s header (client %s)", url, SIGNATURE_HEADER, _client(request))
            return None
        body = await self._body(request, url)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            if media_type != FORM_TYPE:
                raise ValueError(f"content type {media_type or 'missing'}")
            # FormData offers getlist(), which the validator uses for repeated fields.
            form = FormData(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
            valid = self._validator.validate(url, form, signature)
        except (ValueError, TypeError) as exc:  # a garbled body is the sender's problem, not a server fault
            log.warning("webhook %s refused: unreadable body (%s)", url, type(exc).__name__)
            return None
        if not valid:
            log.warning("webhook %s refused: signature does not match (client %s)", url, _client(request))
            return None
        return form


    async def _body(self, request: Request, url: str) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            log.warning("webhook %s refused: body of %s bytes (client %s)", url, declared, _client(request))
            raise BodyTooLarge(self.max_body_bytes)
        body = bytearray()
        async for chunk in request.stream():  # a chunked body has no length to check up front
            body += chunk
            if len(body) > self.max_body_bytes:
                log.warning("webhook %s refused: body over %d bytes (client %s)", url, self.max_body_bytes,
                            _client(request))
                raise BodyTooLarge(self.max_body_bytes)
        return bytes(body)


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"
