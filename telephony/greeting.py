"""What a caller hears first: who answers, what is kept, how to object, and how to choose a language.

German and English, each in its own voice, then the language menu with each language named in itself, so a
caller who understands neither still finds their key. The audio is rendered once and cached on disk
(`AnswerAudioCache`), so after the first call it costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass

from pipeline.processors import KEYS
from pipeline.services import VoiceServices
from voice.audio import Audio

log = logging.getLogger("hotline.twilio")

WELCOME = {
    "de": (
        "Willkommen bei der Hotline des {operator}. Sie sprechen mit einem automatischen Assistenten. "
        "Wir speichern ein Textprotokoll des Gesprächs zur Qualitätssicherung, aber keine Tonaufnahme. "
        "Wenn Sie das nicht möchten, drücken Sie die Sterntaste. "
        "Stellen Sie Ihre Frage in Ihrer Sprache, oder wählen Sie eine Sprache mit einer Taste."
    ),
    "en": (
        "Welcome to the hotline of the {operator}. You are talking to an automated assistant. "
        "We keep a written transcript for quality, but no audio recording. To object, press the star key. "
        "Ask your question in your language, or choose a language with a key."
    ),
}
MENU_ITEM = "{name}: {key}."  # spoken in the language itself: "Türkçe: 4."


@dataclass(frozen=True)
class SpokenPart:
    text: str
    language: str


class PhoneGreeting:
    def __init__(self, services: VoiceServices, rate: int) -> None:
        self.services = services
        self.rate = rate
        settings = services.settings
        operator = settings.operator.name
        welcome = [SpokenPart(WELCOME[lang].format(operator=operator), lang)
                   for lang in ("de", "en") if lang in settings.languages]
        self.welcome = welcome
        phrases = services.dialogue.phrases
        self.menu = [SpokenPart(MENU_ITEM.format(name=phrases.say(lang, "language_name"), key=key), lang)
                     for lang, key in zip(settings.languages, KEYS, strict=False)]

    @property
    def parts(self) -> list[SpokenPart]:
        return [*self.welcome, *self.menu]

    def objection_confirmed(self, language: str | None) -> SpokenPart:
        """In the caller's language (`consent_objected`); before it is known, in the default language."""
        lang = language or self.services.settings.default_language
        return SpokenPart(self.services.dialogue.phrases.say(lang, "consent_objected"), lang)

    async def audio(self, part: SpokenPart) -> Audio:
        return await asyncio.to_thread(self.services.answers.get_or_render, part.text, part.language, self.rate)

    def prepare(self) -> None:
        """Render every part ahead of the first call (blocking; run it in a thread at start-up).

        Run it in a non-daemon thread: it stops after the part in hand once the program is exiting, because
        a daemon thread killed inside the synthesiser's native code aborts the whole process.
        """
        for part in [*self.parts, self.objection_confirmed(None)]:
            if not threading.main_thread().is_alive():
                return
            try:
                self.services.answers.get_or_render(part.text, part.language, self.rate)
            except Exception:
                log.exception("greeting part could not be rendered: %r", part)
