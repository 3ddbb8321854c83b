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
    """Coqui TTS models from a local folder (`config.json` + a checkpoint, `model.pth`); an optional extra.

    The extra (torch, coqui-tts) lives in its own venv, built by `make coqui`; `voice` is the model folder.
    """

    CHECKPOINTS = ("model.pth", "model_file.pth", "best_model.pth", "model_file.pth.tar")

    def __init__(self) -> None:
        self._models: dict[str, object] = {}
        self._length_scales: dict[str, float | None] = {}
        self._lock = threading.Lock()

    def _load(self, folder: Path):
        try:
            from TTS.utils.synthesizer import Synthesizer as CoquiSynthesizer
        except ImportError as exc:
            raise TtsError(
                "the coqui backend needs the optional extra: run `make coqui` and use its venv "
                f"(.cache/coqui-venv), or pip install torch==2.13.0 '.[coqui]' ({exc})"
            ) from None
        if not folder.is_dir():
            raise TtsError(f"coqui model folder {folder} does not exist; put config.json and model.pth there")
        config = folder / "config.json"
        if not config.is_file():
            raise TtsError(f"coqui model folder {folder} has no config.json")
        checkpoint = next((folder / name for name in self.CHECKPOINTS if (folder / name).is_file()), None)
        if checkpoint is None:
            raise TtsError(f"coqui model folder {folder} has no checkpoint ({', '.join(self.CHECKPOINTS)})")
        from TTS.config import load_config

        # torch and coqui raise anything on a corrupt or mismatched file: say which file and what it raised.
        try:
            load_config(str(config))
        except Exception as exc:
            raise TtsError(f"coqui model folder {folder}: config.json is unreadable: {type(exc).__name__}: {exc}") from exc
        try:
            return CoquiSynthesizer(tts_checkpoint=checkpoint, tts_config_path=config)
        except Exception as exc:
            raise TtsError(
                f"coqui model folder {folder}: checkpoint {checkpoint.name} is corrupt or does not fit config.json: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def synthesize(self, text: str, choice: VoiceChoice) -> Audio:
        with self._lock:
            if choice.voice not in self._models:
                synthesizer = self._load(Path(choice.voice))
                self._models[choice.voice] = synthesizer
                self._length_scales[choice.voice] = getattr(synthesizer.tts_model, "length_scale", None)
            synthesizer = self._models[choice.voice]
            model = synthesizer.tts_model  # type: ignore[attr-defined]
            # Multilingual models take the voice's language; single-language ones know their own.
            multilingual = getattr(getattr(model, "language_manager", None), "num_languages", 0) > 1
            language = (choice.lang or None) if multilingual else None
            if self._length_scales[choice.voice] is not None:  # VITS: longer sounds are slower speech
                model.length_scale = self._length_scales[choice.voice] / choice.speed
            samples = np.asarray(synthesizer.tts(text, language_name=language), dtype=np.float32)  # type: ignore[attr-defined]
        from TTS.utils.synthesizer import PAD_SILENCE_SAMPLES

        # coqui pads every sentence with silence; the hotline joins sentences itself.
        if len(samples) > PAD_SILENCE_SAMPLES and not samples[-PAD_SILENCE_SAMPLES:].any():
            samples = samples[:-PAD_SILENCE_SAMPLES]
        return Audio(samples, int(synthesizer.output_sample_rate))  # type: ignore[attr-defined]


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
