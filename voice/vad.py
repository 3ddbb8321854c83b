"""Voice activity and endpointing: where a caller's turn starts, pauses, and ends.

Two detectors, both offline: the classic WebRTC VAD (`webrtcvad-wheels`) and Silero (its ONNX model ships
with pipecat). Both run at 8 kHz (phone) and 16 kHz (browser). The `Endpointer` turns per-frame decisions
into turn events; its silences and the maximum turn length are settings.

With a turn model (`voice.turn`), a silence of `end_silence_ms` does not end the turn by itself: the Endpointer
reports it ("quiet") and stops reading until its owner `decide`s. A caller who has finished is answered at once;
one who paused to find a word gets up to `unfinished_silence_ms` to go on.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from voice.audio import Audio


class VoiceDetector(Protocol):
    rate: int
    frame_samples: int

    def speech_probability(self, frame: np.ndarray) -> float: ...

    def reset(self) -> None: ...


class WebRtcDetector:
    """Google's WebRTC VAD on 20 ms frames; `aggressiveness` 0 (lenient) to 3 (strict)."""

    def __init__(self, rate: int, aggressiveness: int = 2) -> None:
        import webrtcvad

        if rate not in (8000, 16000, 32000, 48000):
            raise ValueError(f"webrtcvad needs 8, 16, 32 or 48 kHz audio, not {rate} Hz")
        self.rate = rate
        self.frame_samples = rate // 50
        self._vad = webrtcvad.Vad(aggressiveness)

    def speech_probability(self, frame: np.ndarray) -> float:
        pcm = (np.clip(frame, -1, 1) * 32767).astype("<i2").tobytes()
        return 1.0 if self._vad.is_speech(pcm, self.rate) else 0.0

    def reset(self) -> None:
        pass


class SileroDetector:
    """Silero VAD (ONNX, bundled with pipecat): 32 ms frames, a speech probability per frame."""

    def __init__(self, rate: int) -> None:
        from pipecat.audio.vad.silero import SileroOnnxModel

        if rate not in (8000, 16000):
            raise ValueError(f"Silero VAD needs 8 or 16 kHz audio, not {rate} Hz")
        path = importlib.resources.files("pipecat.audio.vad.data").joinpath("silero_vad.onnx")
        self.rate = rate
        self.frame_samples = 512 if rate == 16000 else 256
        self._model = SileroOnnxModel(str(path), force_onnx_cpu=True)

    def speech_probability(self, frame: np.ndarray) -> float:
        return float(self._model(frame.astype(np.float32)[None, :], self.rate)[0][0])

    def reset(self) -> None:
        self._model.reset_states()


def make_detector(kind: str, rate: int) -> VoiceDetector:
    if kind == "silero":
        return SileroDetector(rate)
    if kind == "webrtc":
        return WebRtcDetector(rate)
    raise ValueError(f"unknown VAD {kind!r}; use 'silero' or 'webrtc'")


@dataclass(frozen=True)
class EndpointConfig:
    threshold: float = 0.5  # speech probability that counts as speech
    start_ms: int = 120  # this much speech opens a turn (a click or a cough does not)
    pause_ms: int = 200  # a pause this long lets the caller's words be transcribed early
    end_silence_ms: int = 500  # a pause this long ends the turn (with a turn model: if the caller has finished)
    unfinished_silence_ms: int = 2000  # a pause this long ends the turn the turn model thought unfinished
    judged: bool = False  # a turn model decides at end_silence_ms ("quiet" event, then `decide`)
    max_turn_s: float = 20.0  # a caller who never stops is cut here, and the turn is answered
    pre_roll_ms: int = 300  # audio kept from before the turn opened, so first syllables are not lost
    min_rms: float = 0.004  # quieter than this is silence, whatever the detector says (line hiss)


@dataclass(frozen=True)
class TurnEvent:
    kind: str  # "started", "paused", "resumed", "quiet" (only when judged: waits for `decide`), "ended"
    at_s: float  # position in the stream (seconds) where it happened
    audio: Audio | None = None  # the turn so far ("paused") or whole ("ended")
    cut: bool = False  # ended by max_turn_s, not by silence


@dataclass
class Endpointer:
    """Feed audio in any chunk sizes; get turn events back. One per call and direction."""

    detector: VoiceDetector
    config: EndpointConfig = field(default_factory=EndpointConfig)

    def __post_init__(self) -> None:
        self.rate = self.detector.rate
        self._pending = np.zeros(0, dtype=np.float32)
        self._position = 0  # samples consumed
        self._history: list[np.ndarray] = []  # recent frames, for the pre-roll
        self._turn: list[np.ndarray] = []
        self._in_turn = False
        self._speech_run = 0
        self._silence_run = 0
        self._paused = False
        self._last_speech_end = 0
        self._verdict: bool | None = None  # the turn model's word on this pause: finished or not; None: not asked
        self._waiting = False  # a "quiet" event is out and no verdict has come back yet

    @property
    def in_turn(self) -> bool:
        return self._in_turn

    @property
    def position_s(self) -> float:
        """Seconds of audio judged so far (the stream's clock, which turn events are timed on)."""
        return self._position / self.rate

    def reset(self) -> None:
        self.detector.reset()
        self.__post_init__()

    def feed(self, samples: np.ndarray) -> list[TurnEvent]:
        events: list[TurnEvent] = []
        self._pending = np.concatenate([self._pending, samples.astype(np.float32)])
        size = self.detector.frame_samples
        while len(self._pending) >= size and not self._waiting:
            frame, self._pending = self._pending[:size], self._pending[size:]
            self._position += size
            event = self._step(frame)
            if event:
                events.append(event)
        return events

    def decide(self, finished: bool | None) -> list[TurnEvent]:
        """The turn model's verdict on the "quiet" pause: True (or None, no verdict) ends the turn now; False waits
        up to `unfinished_silence_ms` for more. Then the audio kept meanwhile is read on."""
        self._waiting = False
        self._verdict = finished is not False
        events = [self._end(cut=False)] if self._verdict else []
        return events + self.feed(np.zeros(0, np.float32))

    def current_audio(self) -> Audio | None:
        """The open turn so far (for live captions), or None between turns."""
        return self._turn_audio() if self._in_turn and self._turn else None

    def flush(self) -> list[TurnEvent]:
        """The stream ended: a turn still open ends here (a file that stops mid-sentence is still a turn)."""
        return [self._end(cut=False)] if self._in_turn else []

    def _ms(self, samples: int) -> float:
        return samples * 1000 / self.rate

    def _step(self, frame: np.ndarray) -> TurnEvent | None:
        cfg = self.config
        loud = float(np.sqrt(np.mean(frame**2))) >= cfg.min_rms
        speech = loud and self.detector.speech_probability(frame) >= cfg.threshold
        size = len(frame)
        if not self._in_turn:
            self._history.append(frame)
            keep = int(cfg.pre_roll_ms * self.rate / 1000 / size) + int(cfg.start_ms * self.rate / 1000 / size) + 1
            self._history = self._history[-keep:]
            self._speech_run = self._speech_run + size if speech else 0
            if self._ms(self._speech_run) >= cfg.start_ms:
                self._in_turn, self._turn = True, list(self._history)
                self._silence_run, self._paused = 0, False
                self._last_speech_end = self._position
                return TurnEvent("started", (self._position - self._speech_run) / self.rate)
            return None
        self._turn.append(frame)
        if speech:
            self._silence_run = 0
            self._last_speech_end = self._position
            self._verdict = None
            if self._paused:
                self._paused = False
                return TurnEvent("resumed", self._position / self.rate)
        else:
            self._silence_run += size
        turn_samples = sum(len(f) for f in self._turn)
        if turn_samples / self.rate >= cfg.max_turn_s:
            return self._end(cut=True)
        if self._ms(self._silence_run) >= cfg.end_silence_ms:
            if not cfg.judged:
                return self._end(cut=False)
            if self._verdict is None:
                self._waiting = True
                return TurnEvent("quiet", self._last_speech_end / self.rate, self._turn_audio())
            if self._ms(self._silence_run) >= cfg.unfinished_silence_ms:
                return self._end(cut=False)
        if not self._paused and self._ms(self._silence_run) >= cfg.pause_ms:
            self._paused = True
            return TurnEvent("paused", self._last_speech_end / self.rate, self._turn_audio())
        return None

    def _turn_audio(self) -> Audio:
        # Trailing silence beyond a short tail only costs decoding time.
        samples = np.concatenate(self._turn)
        tail = int(self.rate * 0.2)
        keep = len(samples) - max(0, self._silence_run - tail)
        return Audio(samples[:keep], self.rate)

    def _end(self, cut: bool) -> TurnEvent:
        audio = self._turn_audio()
        at = (self._position if cut else self._last_speech_end) / self.rate
        self._in_turn, self._turn, self._history = False, [], []
        self._speech_run = self._silence_run = 0
        self._paused = False
        self._verdict, self._waiting = None, False
        return TurnEvent("ended", at, audio, cut=cut)
