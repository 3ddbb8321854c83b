"""Rendered answer audio, cached on disk by text and voice, at the phone's and the browser's rates.

Most answers are curated sentences known in advance, so their audio is synthesised once (at index time or in
the background) and a caller never waits for text to speech on them. `pace` speeds a language's voice up (or
slows it down) for one text, e.g. a welcome every caller hears; it is part of the key.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from dataclasses import replace
from pathlib import Path

import soundfile

from voice.audio import PHONE_RATE, STT_RATE, Audio
from voice.tts import Synthesizer, VoiceChoice, sentences

RATES = (PHONE_RATE, STT_RATE)


class AnswerAudioCache:
    def __init__(self, directory: Path, synthesizer: Synthesizer) -> None:
        self.directory = directory
        self.synthesizer = synthesizer
        self._lock = threading.Lock()
        self._rendering: dict[tuple[str, str], threading.Lock] = {}  # texts being rendered now, by voice

    def _path(self, text: str, choice: VoiceChoice, rate: int) -> Path:
        digest = hashlib.sha256(f"{choice.key}\n{text}".encode()).hexdigest()[:32]
        return self.directory / digest[:2] / f"{digest}.{rate}.wav"

    def _choice(self, language: str, pace: float) -> VoiceChoice:
        choice = self.synthesizer.voice_for(language)
        return choice if pace == 1.0 else replace(choice, speed=choice.speed * pace)

    def cached(self, text: str, language: str, rate: int, pace: float = 1.0) -> Audio | None:
        path = self._path(text, self._choice(language, pace), rate)
        if not path.is_file():
            return None
        samples, file_rate = soundfile.read(path, dtype="float32")
        return Audio(samples, int(file_rate))

    def render(self, text: str, language: str, pace: float = 1.0) -> dict[int, Audio]:
        """Synthesise `text` (sentence by sentence, as it would stream) and store it at every rate."""
        choice = self._choice(language, pace)
        parts = [self.synthesizer.speak(s, language, choice) for s in sentences(text)]
        return self.store(text, language, parts, pace)

    def store(self, text: str, language: str, parts: list[Audio], pace: float = 1.0) -> dict[int, Audio]:
        """Keep audio already synthesised for `text` (for example while it was spoken live)."""
        choice = self._choice(language, pace)
        native = Audio.concat(parts, parts[0].rate if parts else STT_RATE)
        rendered = {}
        for rate in RATES:
            audio = native.at_rate(rate)
            path = self._path(text, choice, rate)
            path.parent.mkdir(parents=True, exist_ok=True)
            # A name of this writer's own, then an atomic rename: instances sharing the folder may render the
            # same answer at once, and each must find its own file to rename (the last rename wins, complete).
            partial = path.with_name(f"{path.stem}.{uuid.uuid4().hex}.partial.wav")
            audio.write_wav(partial)
            partial.replace(path)
            rendered[rate] = audio
        return rendered

    def get_or_render(self, text: str, language: str, rate: int, pace: float = 1.0) -> Audio:
        """The cached audio, else rendered now; callers asking for the same text at once wait for one rendering
        (the first calls after a fresh install all want the same greeting)."""
        key = (text, self._choice(language, pace).key)
        with self._lock:
            rendering = self._rendering.setdefault(key, threading.Lock())
        try:
            with rendering:
                return self.cached(text, language, rate, pace) or self.render(text, language, pace)[rate]
        finally:
            with self._lock:
                if not rendering.locked():
                    self._rendering.pop(key, None)

    def missing(self, items: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Which (text, language) pairs have no audio yet at every rate."""
        def have(text: str, language: str) -> bool:
            choice = self.synthesizer.voice_for(language)
            return all(self._path(text, choice, rate).is_file() for rate in RATES)

        return [(t, lang) for t, lang in items if not have(t, lang)]
