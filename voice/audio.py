"""Audio as the rest of the project sees it: mono float32 samples at a known rate, and the wire formats.

Files of any common container, rate, channel count or sample format are read through libsndfile or, failing
that, FFmpeg (PyAV); phone audio is G.711 mu-law at 8 kHz; the browser sends 16-bit PCM at 16 kHz.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import soxr

STT_RATE = 16_000
PHONE_RATE = 8_000


class AudioError(ValueError):
    """Audio that cannot be used; the message names the file (or stream) and the problem."""


@dataclass(frozen=True)
class Audio:
    samples: np.ndarray  # float32, mono, in [-1, 1]
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    def at_rate(self, rate: int) -> Audio:
        if rate == self.rate:
            return self
        return Audio(soxr.resample(self.samples, self.rate, rate, quality="HQ").astype(np.float32), rate)

    def pcm16(self) -> bytes:
        return (np.clip(self.samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()

    def wav_bytes(self) -> bytes:
        buffer = io.BytesIO()
        soundfile.write(buffer, self.samples, self.rate, format="WAV", subtype="PCM_16")
        return buffer.getvalue()

    def write_wav(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, self.samples, self.rate, subtype="PCM_16")

    @classmethod
    def silence(cls, seconds: float, rate: int) -> Audio:
        return cls(np.zeros(int(seconds * rate), dtype=np.float32), rate)

    @classmethod
    def concat(cls, parts: list[Audio], rate: int) -> Audio:
        if not parts:
            return cls(np.zeros(0, dtype=np.float32), rate)
        return cls(np.concatenate([p.at_rate(rate).samples for p in parts]).astype(np.float32), rate)


def read_audio(path: Path) -> Audio:
    """Decode a file to mono float32 at its own rate, or raise `AudioError` saying what is wrong."""
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: the file is empty")
    try:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
        return _mono(samples, rate, path)
    except (soundfile.LibsndfileError, RuntimeError, TypeError):
        pass
    return _read_with_ffmpeg(path)


def _read_with_ffmpeg(path: Path) -> Audio:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioError(f"{path}: the file holds no audio stream")
            resampler = av.AudioResampler(format="flt", layout="mono")
            chunks, rate = [], container.streams.audio[0].rate
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
    except AudioError:
        raise
    except Exception as exc:  # noqa: BLE001 - PyAV raises many unrelated types for garbage input
        raise AudioError(f"{path}: not a readable audio file ({type(exc).__name__}: {exc})") from None
    if not chunks or not rate:
        raise AudioError(f"{path}: the audio stream is empty")
    return Audio(np.concatenate(chunks).astype(np.float32), int(rate))


def _mono(samples: np.ndarray, rate: int, path: Path) -> Audio:
    if samples.size == 0:
        raise AudioError(f"{path}: the audio stream is empty")
    if not np.isfinite(samples).all():
        raise AudioError(f"{path}: the audio holds invalid (NaN or infinite) samples")
    return Audio(samples.mean(axis=1).astype(np.float32), int(rate))


# --- wire formats -------------------------------------------------------------------------------------
def pcm16_to_float(data: bytes) -> np.ndarray:
    if len(data) % 2:
        raise AudioError("PCM16 audio must have an even number of bytes")
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


_MULAW_BIAS = 0x84
_MULAW_CLIP = 32635


def _mulaw_decode_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + _MULAW_BIAS) << exponent) - _MULAW_BIAS
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


_DECODE = _mulaw_decode_table()


def mulaw_to_pcm16(data: bytes) -> np.ndarray:
    """G.711 mu-law bytes to int16 samples."""
    return _DECODE[np.frombuffer(data, dtype=np.uint8)]


def pcm16_to_mulaw(samples: np.ndarray) -> bytes:
    """int16 samples to G.711 mu-law bytes."""
    pcm = samples.astype(np.int32)
    sign = np.where(pcm < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(pcm), _MULAW_CLIP) + _MULAW_BIAS
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def over_phone_line(audio: Audio) -> Audio:
    """What a caller's audio becomes on the way to us over the phone: 8 kHz G.711 mu-law, decoded."""
    narrow = audio.at_rate(PHONE_RATE)
    coded = pcm16_to_mulaw((np.clip(narrow.samples, -1, 1) * 32767).astype(np.int16))
    return Audio(mulaw_to_pcm16(coded).astype(np.float32) / 32768, PHONE_RATE)
