"""Fixtures for the widget: the real voice services, a real transcript store, real uvicorn servers.

Everything runs for real: Whisper, the TTS voices, the dialogue and SQLite. The models load once per test
session; each server runs on a free loopback port in a thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI

from review.store import TranscriptStore
from telephony.widget import WidgetConfig, create_widget_router
from tests.servers import running

# A Tuesday morning: the Welcome Center is open (Monday to Thursday 9-16 in config/hotline.yaml).
OPEN_TUESDAY = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.fixture(scope="session")
def voice_services(settings, dialogue):
    from pipeline.services import VoiceServices

    return VoiceServices.from_settings(settings, dialogue)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TranscriptStore]:
    store = TranscriptStore(f"sqlite:///{tmp_path_factory.mktemp('widget') / 'hotline.db'}")
    yield store
    store.close()


@contextmanager
def widget_server(services, store: TranscriptStore | None, config: WidgetConfig | None = None) -> Iterator[str]:
    app = FastAPI()
    app.include_router(create_widget_router(services, store, config=config, clock=lambda: OPEN_TUESDAY))
    with running(app, "widget-uvicorn") as url:
        yield url


@pytest.fixture(scope="module")
def server(voice_services, store: TranscriptStore) -> Iterator[str]:
    """The widget with its default limits, over the real store; the clock stands on an open Tuesday."""
    with widget_server(voice_services, store) as url:
        yield url


ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
