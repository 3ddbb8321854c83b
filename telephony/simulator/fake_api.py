"""A local stand-in for Twilio's REST API (Calls and Messages): it checks Basic auth and records every request.

Point `twilio.api_base_url` (TWILIO_API_BASE_URL) at it, and the real `twilio` client and pipecat's auto
hang-up talk to it instead of api.twilio.com. It runs in its own thread, so a server under test, the test
itself and this fake never share an event loop.

>>> api = FakeTwilioApi("AC...", "token")
>>> base_url = api.start()
>>> api.updates("CA123")[0].form["Twiml"]
>>> api.messages()[0].form["Body"]   # text messages sent (To, From, Body)
>>> api.fail(500)        # from now on every request is answered 500, as Twilio does in an incident
>>> api.recover()
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

_CALL = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC\w+)/Calls/(?P<call>CA\w+)\.json$")
_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC\w+)/Messages\.json$")


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str
    form: dict[str, str]
    authorized: bool
    call_sid: str | None
    at: float = field(default_factory=time.monotonic)


class FakeTwilioApi:
    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests: list[ApiRequest] = []
        self._messages: list[ApiRequest] = []  # text messages accepted (answered 201)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._failing: tuple[int, str | None] | None = None  # (status, only this call or any)

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        handler = type("Handler", (_Handler,), {"api": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        threading.Thread(target=self._server.serve_forever, name="fake twilio api", daemon=True).start()
        return self.base_url

    @property
    def base_url(self) -> str:
        assert self._server, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def fail(self, status: int = 500, call_sid: str | None = None) -> None:
        """Answer requests (for `call_sid`, or all) with `status` and Twilio's error body until `recover()`."""
        with self._lock:
            self._failing = (status, call_sid)

    def recover(self) -> None:
        with self._lock:
            self._failing = None

    def failure_for(self, call_sid: str | None) -> int | None:
        with self._lock:
            if self._failing is None:
                return None
            status, only = self._failing
            return status if only in (None, call_sid) else None

    def record(self, request: ApiRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def for_call(self, call_sid: str) -> list[ApiRequest]:
        with self._lock:
            return [r for r in self.requests if r.call_sid == call_sid]

    def updates(self, call_sid: str) -> list[ApiRequest]:
        """Requests that gave the call new TwiML (a transfer, an apology)."""
        return [r for r in self.for_call(call_sid) if "Twiml" in r.form]

    def hang_ups(self, call_sid: str) -> list[ApiRequest]:
        return [r for r in self.for_call(call_sid) if r.form.get("Status") == "completed"]

    def messages(self, to: str | None = None) -> list[ApiRequest]:
        """Text messages accepted (POST .../Messages.json answered 201), to `to` or to anyone."""
        with self._lock:
            return [r for r in self._messages if to is None or r.form.get("To") == to]

    def accept_message(self, request: ApiRequest) -> None:
        with self._lock:
            self._messages.append(request)

    def wait_for(self, condition, timeout_s: float = 10.0) -> bool:
        """Poll until `condition()` is true (call it from a thread, or use `asyncio.to_thread`)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.05)
        return bool(condition())


class _Handler(BaseHTTPRequestHandler):
    api: FakeTwilioApi

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", errors="replace")
        form = {key: values[-1] for key, values in parse_qs(body, keep_blank_values=True).items()}
        match = _CALL.match(self.path)
        authorized = self._authorized()
        request = ApiRequest("POST", self.path, form, authorized, match["call"] if match else None)
        self.api.record(request)
        if not authorized:
            return self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
        if (message := _MESSAGES.match(self.path)) and message["account"] == self.api.account_sid:
            return self._message(request)
        if not match or match["account"] != self.api.account_sid:
            return self._json(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})
        failure = self.api.failure_for(match["call"])
        if failure is not None:
            return self._json(failure, {"code": 20500, "message": "Internal Server Error", "status": failure})
        status = "completed" if form.get("Status") == "completed" else "in-progress"
        return self._json(200, {"sid": match["call"], "account_sid": self.api.account_sid, "status": status,
                                "uri": self.path})

    def _message(self, request: ApiRequest) -> None:
        form = request.form
        failure = self.api.failure_for(None)
        if failure is not None:
            return self._json(failure, {"code": 20500, "message": "Internal Server Error", "status": failure})
        if not form.get("To") or not (form.get("From") or form.get("MessagingServiceSid")) or not form.get("Body"):
            return self._json(400, {"code": 21604, "message": "A 'To', 'From' and 'Body' are required",
                                    "status": 400})
        sid = "SM" + uuid.uuid4().hex
        self.api.accept_message(request)
        return self._json(201, {"sid": sid, "account_sid": self.api.account_sid, "to": form["To"],
                                "from": form.get("From"), "body": form["Body"], "status": "queued",
                                "uri": f"/2010-04-01/Accounts/{self.api.account_sid}/Messages/{sid}.json"})

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.api.account_sid and password == self.api.auth_token

    def _json(self, status: int, data: dict) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass  # requests are recorded, not printed
