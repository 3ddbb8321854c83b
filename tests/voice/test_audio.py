"""Reading whatever audio a user hands us, and the phone's wire format."""

import numpy as np
import pytest
import soundfile

from voice.audio import Audio, AudioError, mulaw_to_pcm16, pcm16_to_mulaw, read_audio


@pytest.mark.parametrize(
    ("rate", "channels", "subtype", "fmt"),
    [(8000, 1, "PCM_16", "WAV"), (44100, 2, "PCM_24", "WAV"), (48000, 2, "FLOAT", "WAV"), (22050, 1, "PCM_16", "FLAC"),
     (16000, 1, "VORBIS", "OGG")],
)
def test_common_rates_channels_and_formats_are_read_as_mono(tmp_path, rate, channels, subtype, fmt):
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)
    path = tmp_path / f"tone.{fmt.lower()}"
    soundfile.write(path, np.stack([tone] * channels, axis=1), rate, subtype=subtype, format=fmt)
    audio = read_audio(path)
    assert audio.rate == rate and audio.samples.ndim == 1
    assert abs(audio.seconds - 1.0) < 0.05


def test_garbage_names_the_file_and_the_problem(tmp_path):
    path = tmp_path / "question.wav"
    path.write_bytes(b"RIFF\x00\x00garbage" * 100)
    with pytest.raises(AudioError, match="question.wav"):
        read_audio(path)


def test_empty_and_missing_files_are_refused(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        read_audio(empty)
    with pytest.raises(AudioError, match="no such file"):
        read_audio(tmp_path / "missing.wav")


def test_mulaw_round_trip_keeps_the_signal():
    tone = (0.5 * np.sin(2 * np.pi * 300 * np.arange(8000) / 8000) * 32767).astype(np.int16)
    back = mulaw_to_pcm16(pcm16_to_mulaw(tone))
    assert np.corrcoef(tone, back)[0, 1] > 0.999


def test_resampling_keeps_duration():
    audio = Audio(np.zeros(8000, np.float32), 8000)
    assert audio.at_rate(16000).samples.shape == (16000,)
