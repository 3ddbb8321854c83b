"""Shared fixtures: the real settings, the real knowledge base (index cached under the Makefile's cache)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

from hotline.settings import Settings, load_settings

BERLIN = ZoneInfo("Europe/Berlin")
ROOT = Path(__file__).resolve().parent.parent


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def dialogue(settings: Settings):
    from pipeline.dialogue import load_dialogue

    return load_dialogue(settings)


@pytest.fixture(scope="session")
def knowledge(dialogue):
    return dialogue.knowledge
