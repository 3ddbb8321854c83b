"""What a caller hears first: who answers, that it is automated, what is kept and how to object, and to ask.

German and English, each in its own voice, and nothing more: a caller who knows what to ask should be asking
within seconds. The language menu (each language named in itself, so a caller who understands neither still
finds their key) comes only when the caller says nothing after the welcome or presses `#`; the keys work at any
time. The audio is rendered once and cached on disk (`AnswerAudioCache`), so after the first call it costs
nothing; the pauses the synthesiser leaves between sentences are shortened, because on the phone every
second of welcome is a second the caller waits.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, replace

import numpy as np

from pipeline.processors import KEYS
from pipeline.services import VoiceServices
from voice.audio import Audio
from voice.threads import in_synthesis_thread

log = logging.getLogger("hotline.twilio")

# Measured with the shipped voices at 8 kHz, pauses shortened: German 8.7 s (Kokoro reads German at about
# 1.6 words a second), English 5.0 s; at `telephony.welcome_pace` 1.15 they take 8.0 and 4.7 s, and the caller's
# ear hears the bot listening after 12.7 s (13.8 s at 1.0). The audio shortens less than in proportion to the
# pace (1.25 still gives 7.4 + 4.4 s), so the pace cannot carry the welcome to 12 s on its own.
WELCOME = {
    "de": "{operator}, automatischer Assistent. Wir speichern ein Textprotokoll, Widerspruch mit Stern. "
          "Ihre Frage bitte.",
    "en": "Automated assistant. We keep a transcript; star to object. Ask in your language.",
}
MENU_ITEM = "{name}: {key}."  # spoken in the language itself: "Türkçe: 4."
MAX_PAUSE_S = 0.3  # a pause inside the welcome or the menu is cut to this


@dataclass(frozen=True)
class SpokenPart:
    text: str
    language: str
    pace: float = 1.0  # the voice's own speed times this (`AnswerAudioCache`)


class PhoneGreeting:
    def __init__(self, services: VoiceServices, rate: int, welcome_pace: float = 1.0) -> None:
        """`welcome_pace`: the welcome is heard on every call, so it may be spoken a little faster than answers
        (`telephony.welcome_pace`)."""
        self.services = services
        self.rate = rate
        settings = services.settings
        operator = settings.operator.name
        welcome = [SpokenPart(WELCOME[lang].format(operator=operator), lang, welcome_pace)
                   for lang in ("de", "en") if lang in settings.languages]
        self.welcome = welcome
        phrases = services.dialogue.phrases
        self.menu = [SpokenPart(MENU_ITEM.format(name=phrases.say(lang, "language_name"), key=key), lang)
                     for lang, key in zip(settings.languages, KEYS, strict=False)]

    @property
    def parts(self) -> list[SpokenPart]:
        """Everything prepared ahead of the first call."""
        return [*self.welcome, *self.menu]

    def objection_confirmed(self, language: str | None) -> SpokenPart:
        """In the caller's language (`consent_objected`); before it is known, in the default language."""
        lang = language or self.services.settings.default_language
        return SpokenPart(self.services.dialogue.phrases.say(lang, "consent_objected"), lang)

    async def audio(self, part: SpokenPart) -> Audio:
        answers = self.services.answers
        audio = (await asyncio.to_thread(answers.cached, part.text, part.language, self.rate, part.pace)
                 or await in_synthesis_thread(answers.get_or_render, part.text, part.language, self.rate, part.pace))
        # The welcome and the menu are heard on every call: their pauses are shortened. Other phrases sound as the
        # agent's own answers do.
        return shorten_pauses(audio, MAX_PAUSE_S) if part in self.welcome or part in self.menu else audio

    def prepare(self) -> None:
        """Render every part ahead of the first call (blocking; run it in a thread at start-up).

        Run it in a non-daemon thread: it stops after the part in hand once the program is exiting, because
        a daemon thread killed inside the synthesiser's native code aborts the whole process.
        """
        for part in [*self.parts, self.objection_confirmed(None)]:
            if not threading.main_thread().is_alive():
                return
            try:
                self.services.answers.get_or_render(part.text, part.language, self.rate, part.pace)
            except Exception:
                log.exception("greeting part could not be rendered: %r", part)


def shorten_pauses(audio: Audio, max_pause_s: float, level: float = 0.01, frame_s: float = 0.02) -> Audio:
    """`audio` with every quiet stretch (below `level` of full scale) longer than `max_pause_s` cut down to it,
    at both ends too."""
    samples = audio.samples
    frame = max(1, int(audio.rate * frame_s))
    if len(samples) < frame:
        return audio
    count = len(samples) // frame
    loud = np.abs(samples[: count * frame]).reshape(count, frame).max(axis=1) >= level
    keep_frames = max(1, int(max_pause_s / frame_s))
    keep = np.ones(count, dtype=bool)
    quiet_run = 0
    for i, is_loud in enumerate(loud):
        quiet_run = 0 if is_loud else quiet_run + 1
        if quiet_run > keep_frames:
            keep[i] = False
    if keep.all():
        return audio
    kept = samples[: count * frame].reshape(count, frame)[keep].reshape(-1)
    return replace(audio, samples=np.concatenate([kept, samples[count * frame:]]))
