"""Voice fixtures: the real models (provisioned by `make setup`), loaded once for the session."""

from __future__ import annotations

import pytest

from voice.audio import Audio


@pytest.fixture(scope="session")
def voice_services(settings, dialogue):
    from pipeline.services import VoiceServices

    return VoiceServices.from_settings(settings, dialogue)


@pytest.fixture(scope="session")
def speak(voice_services):
    """Test speech made by the project's own voices (never downloaded)."""
    cache: dict[tuple[str, str], Audio] = {}

    def make(text: str, language: str) -> Audio:
        if (text, language) not in cache:
            cache[(text, language)] = voice_services.synthesizer.speak(text, language)
        return cache[(text, language)]

    return make
