"""A real server on a loopback port, a fake Twilio REST API beside it, and a Twilio simulator to call it.

The server runs uvicorn in its own thread (its own event loop), as in production; the models are loaded
once per session and shared by every server started here.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import pytest
import uvicorn

from hotline import logs
from hotline.settings import Settings, load_settings
from hotline.websocket_protocol import WebSocketProtocol
from telephony.line import CallPolicy
from telephony.simulator import TwilioSimulator, fluent
from telephony.simulator.fake_api import FakeTwilioApi
from tests.conftest import berlin
from voice.tts import VoiceChoice

ACCOUNT_SID = "AC" + "7" * 32
AUTH_TOKEN = "test-auth-token-0123456789"
TUESDAY_10 = berlin(2026, 12, 1, 10, 0)  # open
SUNDAY_10 = berlin(2026, 12, 6, 10, 0)  # closed; opens Monday 9:00
STAFF_NUMBER = "+4964410000000"  # transfer.staff_number in config/hotline.yaml

logs.route_pipecat()  # pipecat logs DEBUG by default; as served, its warnings reach `logging` (and caplog)


class MovableClock:
    """The server's idea of now (opening hours); a test sets the moment it needs."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@dataclass
class RunningServer:
    url: str
    settings: Settings
    clock: MovableClock
    api: FakeTwilioApi
    store: object

    @property
    def twilio(self) -> TwilioSimulator:
        return TwilioSimulator(self.url, ACCOUNT_SID, AUTH_TOKEN)


@pytest.fixture(scope="session")
def voice_services(settings, dialogue):
    from pipeline.services import VoiceServices, phrase_texts

    voice = VoiceServices.from_settings(settings, dialogue)
    # As `hotline serve` does first in the background: the fixed sentences (apology, goodbye...) have audio, so
    # a fault's apology is not timed against a first-time render on a fresh clone.
    for text, language in voice.answers.missing(phrase_texts(dialogue, ["de"])):
        voice.answers.render(text, language)
    return voice


@pytest.fixture(scope="session")
def fake_api() -> Iterator[FakeTwilioApi]:
    api = FakeTwilioApi(ACCOUNT_SID, AUTH_TOKEN)
    api.start()
    yield api
    api.stop()


@pytest.fixture(scope="session")
def store(tmp_path_factory):
    from review.store import TranscriptStore

    path = tmp_path_factory.mktemp("telephony") / "calls.db"
    return TranscriptStore(f"sqlite:///{path}", redact_contacts=False)


@contextmanager
def serve(voice_services, dialogue, api: FakeTwilioApi, store, policy: CallPolicy | None = None,
          max_calls: int = 50, widget: bool = False,
          overrides: dict[str, object] | None = None) -> Iterator[RunningServer]:
    """The app as `hotline serve` builds it, with the Twilio router mounted (and the widget's, if asked), on a
    free loopback port; `overrides` sets more configuration keys (`{"twilio.sms_from": "+49..."}`)."""
    from hotline.app import Services, create_app
    from telephony.router import create_twilio_router

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = load_settings(overrides={
        "server.public_url": url, "twilio.account_sid": ACCOUNT_SID, "twilio.auth_token": AUTH_TOKEN,
        "twilio.api_base_url": api.base_url, "telephony.max_concurrent_calls": max_calls, **(overrides or {}),
    })
    clock = MovableClock(TUESDAY_10)
    app = create_app(Services(settings, dialogue))
    if widget:
        from telephony.widget import create_widget_router

        app.include_router(create_widget_router(voice_services, store, config=settings.widget, clock=clock))
    app.include_router(create_twilio_router(settings, voice_services, store, clock=clock, policy=policy))
    # The WebSocket settings of `hotline serve`: its frame limit and its protocol.
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", ws_max_size=1_048_576,
                                           ws=WebSocketProtocol))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield RunningServer(url, settings, clock, api, store)
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@pytest.fixture(scope="session")
def server(voice_services, dialogue, fake_api, store) -> Iterator[RunningServer]:
    with serve(voice_services, dialogue, fake_api, store) as running:
        yield running


@pytest.fixture
def twilio(server) -> TwilioSimulator:
    server.clock.moment = TUESDAY_10
    return server.twilio


# The caller: another of the provisioned Kokoro voices than the bot's, the one Whisper hears best in German.
CALLER_VOICE = VoiceChoice("kokoro", "jf_gongitsune", "de")


@pytest.fixture(scope="session")
def speech(voice_services):
    """German caller speech made by the project's own synthesizer (cached per text)."""
    cache = {}

    def make(text: str):
        if text not in cache:
            cache[text] = fluent(voice_services.synthesizer.speak(text, "de", CALLER_VOICE))
        return cache[text]

    return make


async def completed_call(store, call_sid: str, timeout_s: float = 30.0):
    """The call as the review UI shows it, once the server has completed its record (the pipeline ended)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        detail = await asyncio.to_thread(store.get_call, call_sid)
        if detail is not None and detail.call.ended_at is not None:
            return detail
        await asyncio.sleep(0.1)
    raise AssertionError(f"call {call_sid} has no completed record after {timeout_s} s")
