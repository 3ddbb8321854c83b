"""Text to speech: one interface, several offline backends, a voice per language from config.

Backends: Piper (any Piper voice file), Kokoro-82M int8 (kokoro-onnx, through its espeak phonemiser),
espeak-ng (the Debian package: every language, instant, robotic) and Coqui TTS (optional extra; a model path).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from voice.audio import Audio, AudioError
from voice.provision import ModelPaths

_SENTENCE = re.compile(r"(?<=[.!?؟。])\s+")


class TtsError(RuntimeError):
    """A voice cannot speak: the message names the backend, the voice and what to do."""


@dataclass(frozen=True)
class VoiceChoice:
    backend: str  # piper, kokoro, espeak, coqui
    voice: str  # piper: model file stem; kokoro: style name; espeak: voice name; coqui: model folder
    lang: str = ""  # the phonemiser's language code (kokoro, espeak), e.g. "fr-fr"
    speed: float = 1.0

    @property
    def key(self) -> str:
        return f"{self.backend}:{self.voice}:{self.lang}:{self.speed}"


class Backend(Protocol):
    def synthesize(self, text: str, choice: VoiceChoice) -> Audio: ...


def sentences(text: str) -> list[str]:
    """Split for streaming: the first sentence can play while the next is synthesised."""
    return [s for s in _SENTENCE.split(text.strip()) if s]


class PiperBackend:
    def __init__(self, voices_dir: Path) -> None:
        self.voices_dir = voices_dir
        self._voices: dict[str, object] = {}
        self._lock = threading.Lock()

    def _voice(self, name: str):
        from piper.voice import PiperVoice

        with self._lock:
            if name not in self._voices:
                path = self.voices_dir / f"{name}.onnx"
                if not path.exists():
                    raise TtsError(f"piper voice {name!r} not found at {path}; put the .onnx and .onnx.json there")
                self._voices[name] = PiperVoice.load(path)
            return self._voices[name]

    def synthesize(self, text: str, choice: VoiceChoice) -> Audio:
        from piper.config import SynthesisConfig

        voice = self._voice(choice.voice)
        config = SynthesisConfig(length_scale=1.0 / choice.speed)
        chunks = list(voice.synthesize(text, syn_config=config))
        if not chunks:
            return Audio.silence(0.1, voice.config.sample_rate)
        return Audio(np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32), chunks[0].sample_rate)


class KokoroBackend:
    def __init__(self, model: Path, voices: Path) -> None:
        self.model, self.voices = model, voices
        self._engine = None
        self._lock = threading.Lock()

    def _kokoro(self):
        from kokoro_onnx import Kokoro

        with self._lock:
            if self._engine is None:
                if not self.model.is_file():
                    raise TtsError(f"kokoro model missing at {self.model}; run `hotline models`")
                self._engine = Kokoro(str(self.model), str(self.voices))
            return self._engine

    def synthesize(self, text: str, choice: VoiceChoice) -> Audio:
        engine = self._kokoro()
        if choice.voice not in engine.get_voices():
            raise TtsError(f"kokoro voice {choice.voice!r} unknown; available: {', '.join(engine.get_voices())}")
        samples, rate = engine.create(text, voice=choice.voice, lang=choice.lang or "en-us", speed=choice.speed)
        return Audio(np.asarray(samples, dtype=np.float32), int(rate))


class EspeakBackend:
    def __init__(self, binary: str = "espeak-ng") -> None:
        self.binary = binary

    def synthesize(self, text: str, choice: VoiceChoice) -> Audio:
        import io

        import soundfile

        path = shutil.which(self.binary)
        if not path:
            raise TtsError("espeak-ng is not installed: `apt-get install espeak-ng` (Debian package)")
        words_per_minute = str(int(160 * choice.speed))
        done = subprocess.run(
            [path, "-v", choice.voice, "-s", words_per_minute, "--stdout", text],
            capture_output=True, timeout=30, check=False,
        )
        if done.returncode != 0 or not done.stdout:
            raise TtsError(f"espeak-ng voice {choice.voice!r} failed: {done.stderr.decode(errors='replace').strip()}")
        try:
            samples, rate = soundfile.read(io.BytesIO(done.stdout), dtype="float32")
        except soundfile.LibsndfileError as exc:
            raise AudioError(f"espeak-ng returned unreadable audio: {exc}") from None
        return Audio(samples.reshape(-1), int(rate))


class CoquiBackend:
    """Coqui TTS models from a local folder (`config.json` + `model.pth`); an optional extra (`coqui`)."""

    def __init__(self) -> None:
        self._models: dict[str, object] = {}
        self._lock = threading.Lock()

    def synthesize(self, text: str, choice: VoiceChoice) -> Audio:
        try:
            from TTS.utils.synthesizer import Synthesizer
        except ImportError as exc:
            raise TtsError(f"the coqui backend needs the optional extra: pip install '.[coqui]' ({exc})") from None
        folder = Path(choice.voice)
        with self._lock:
            if choice.voice not in self._models:
                if not (folder / "config.json").is_file():
                    raise TtsError(f"coqui model folder {folder} has no config.json")
                self._models[choice.voice] = Synthesizer(
                    tts_checkpoint=str(folder / "model.pth"), tts_config_path=str(folder / "config.json")
                )
            synthesizer = self._models[choice.voice]
        samples = synthesizer.tts(text)  # type: ignore[attr-defined]
        return Audio(np.asarray(samples, dtype=np.float32), int(synthesizer.output_sample_rate))  # type: ignore[attr-defined]


class Synthesizer:
    """Speaks text in a language with the configured voice.

    >>> synthesizer.speak("Guten Tag.", "de").seconds
    0.9
    """

    def __init__(self, voices: dict[str, VoiceChoice], models: ModelPaths | None) -> None:
        self.voices = voices
        self._backends: dict[str, Backend] = {"espeak": EspeakBackend(), "coqui": CoquiBackend()}
        if models:
            self._backends["piper"] = PiperBackend(models.piper_voices)
            self._backends["kokoro"] = KokoroBackend(models.kokoro_model, models.kokoro_voices)

    def voice_for(self, language: str) -> VoiceChoice:
        if language not in self.voices:
            raise TtsError(f"no voice configured for language {language!r} (config: voices.{language})")
        return self.voices[language]

    def speak(self, text: str, language: str, choice: VoiceChoice | None = None) -> Audio:
        choice = choice or self.voice_for(language)
        backend = self._backends.get(choice.backend)
        if backend is None:
            raise TtsError(f"unknown TTS backend {choice.backend!r}; use piper, kokoro, espeak or coqui")
        return backend.synthesize(text, choice)

    def stream(self, text: str, language: str) -> Iterator[Audio]:
        """Sentence by sentence, so the first audio is ready after one sentence, not the whole answer."""
        for sentence in sentences(text):
            yield self.speak(sentence, language)
