"""Rendered answer audio, cached on disk by text and voice, at the phone's and the browser's rates.

Most answers are curated sentences known in advance, so their audio is synthesised once (at index time or in
the background) and a caller never waits for text to speech on them.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
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

    def cached(self, text: str, language: str, rate: int) -> Audio | None:
        path = self._path(text, self.synthesizer.voice_for(language), rate)
        if not path.is_file():
            return None
        samples, file_rate = soundfile.read(path, dtype="float32")
        return Audio(samples, int(file_rate))

    def render(self, text: str, language: str) -> dict[int, Audio]:
        """Synthesise `text` (sentence by sentence, as it would stream) and store it at every rate."""
        choice = self.synthesizer.voice_for(language)
        return self.store(text, language, [self.synthesizer.speak(s, language, choice) for s in sentences(text)])

    def store(self, text: str, language: str, parts: list[Audio]) -> dict[int, Audio]:
        """Keep audio already synthesised for `text` (for example while it was spoken live)."""
        choice = self.synthesizer.voice_for(language)
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

    def get_or_render(self, text: str, language: str, rate: int) -> Audio:
        """The cached audio, else rendered now; callers asking for the same text at once wait for one rendering
        (the first calls after a fresh install all want the same greeting)."""
        key = (text, self.synthesizer.voice_for(language).key)
        with self._lock:
            rendering = self._rendering.setdefault(key, threading.Lock())
        try:
            with rendering:
                return self.cached(text, language, rate) or self.render(text, language)[rate]
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
