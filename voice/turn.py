"""Has the caller finished? pipecat's Smart Turn v3.2 judges a pause by how the words so far sound.

Silence alone cuts off a caller who stops to find a word; Smart Turn (an ONNX model shipped inside pipecat, so
nothing is downloaded) hears whether the last words sound like the end of a turn. It was trained on 23
languages; for the others (Romanian among ours) only the silence rule applies. It takes 16 kHz audio: the
phone's 8 kHz is resampled first.

pipecat's `LocalSmartTurnAnalyzerV3` keeps its own audio buffer and VAD state for pipecat's turn strategies;
our `Endpointer` already has the turn's audio, so this runs the same model on it directly.
"""

from __future__ import annotations

import asyncio
import importlib.resources
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from voice.audio import Audio

MODEL_RATE = 16000
WINDOW_S = 8  # the model hears the last 8 s of the turn, padded with silence in front when shorter
# The model card's languages (smart-turn v3), as ISO 639-1 codes.
LANGUAGES = frozenset({"ar", "bn", "zh", "da", "nl", "de", "en", "fi", "fr", "hi", "id", "it", "ja", "ko", "mr",
                       "no", "pl", "pt", "ru", "es", "tr", "uk", "vi"})


class SmartTurn:
    """One loaded model, shared by all calls; `finished` runs on a small pool of its own threads."""

    def __init__(self, threshold: float = 0.5, workers: int = 2) -> None:
        import onnxruntime as ort

        path = importlib.resources.files("pipecat.audio.turn.smart_turn.data").joinpath("smart-turn-v3.2-cpu.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # a verdict is ~100 ms on one core; calls run side by side instead
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self._session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        self.threshold = threshold
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="smart-turn")

    @staticmethod
    def hears(language: str | None) -> bool:
        """Whether the model knows the language (an unknown language, before the first turn, is tried)."""
        return language is None or language in LANGUAGES

    def probability(self, audio: Audio) -> float:
        """How likely the turn is complete, 0..1 (the model's sigmoid output)."""
        from pipecat.audio.turn.smart_turn._whisper_features import compute_whisper_log_mel_features

        samples = audio.at_rate(MODEL_RATE).samples.astype(np.float32)[-WINDOW_S * MODEL_RATE:]
        samples = np.pad(samples, (WINDOW_S * MODEL_RATE - len(samples), 0))
        features = compute_whisper_log_mel_features(samples, do_normalize=True)
        outputs = self._session.run(None, {"input_features": features[None, ...]})
        return float(np.asarray(outputs[0]).reshape(-1)[0])

    def finished(self, audio: Audio) -> bool:
        return self.probability(audio) >= self.threshold

    def judge(self, audio: Audio) -> asyncio.Future[bool]:
        """`finished` on the model's threads (never on the event loop: it holds a core for ~100 ms)."""
        return asyncio.get_running_loop().run_in_executor(self._pool, self.finished, audio)
