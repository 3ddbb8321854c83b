"""Coqui TTS voices (the optional extra): a model folder speaks through the project's Synthesizer, or says why not.

The extra lives in its own venv (`make coqui`: torch in the main venv would slow every process), so these
tests run tests/voice/coqui_tiny_model.py there. It builds a tiny, randomly initialised VITS model (nothing is
downloaded) and speaks with it as a `coqui` voice; the audio is checked here.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from voice.audio import read_audio
from voice.tts import Synthesizer, TtsError, VoiceChoice

HELPER = Path(__file__).with_name("coqui_tiny_model.py")
ROOT = HELPER.parents[2]
SENTENCE = "Guten Tag, willkommen im Welcome Center Gießen."
BROKEN = {
    "missing folder": "does not exist",
    "folder without config.json": "has no config.json",
    "folder without checkpoint": "has no checkpoint",
    "corrupt checkpoint": "checkpoint model.pth is corrupt",
    "corrupt config.json": "config.json is unreadable",
}


def run_in_coqui_venv(python: Path, *args: str) -> list[dict]:
    done = subprocess.run(
        [str(python), str(HELPER), *args], capture_output=True, text=True, timeout=300, cwd=ROOT, check=False
    )
    assert done.returncode == 0, f"{HELPER.name} {args[0]} failed in the coqui venv:\n{done.stderr[-4000:]}"
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def coqui_python(settings) -> Path:
    python = settings.cache_dir / "coqui-venv" / "bin" / "python"
    if not python.exists():
        pytest.fail(f"the Coqui extra's venv is missing ({python}): run `make coqui` first", pytrace=False)
    return python


@pytest.fixture(scope="module")
def tiny_model(coqui_python, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("coqui") / "tiny-vits"
    run_in_coqui_venv(coqui_python, "build", str(folder))
    return folder


def broken_copy(model: Path, kind: str, root: Path) -> Path:
    folder = root / kind.replace(" ", "-")
    if kind == "missing folder":
        return folder
    shutil.copytree(model, folder)
    if kind == "folder without config.json":
        (folder / "config.json").unlink()
    elif kind == "folder without checkpoint":
        (folder / "model.pth").unlink()
    elif kind == "corrupt checkpoint":
        (folder / "model.pth").write_bytes((folder / "model.pth").read_bytes()[:5000])
    elif kind == "corrupt config.json":
        (folder / "config.json").write_text('{"model": "vits", ')
    return folder


@pytest.fixture(scope="module")
def spoken(coqui_python, tiny_model, tmp_path_factory) -> dict[str, dict]:
    """One run in the coqui venv: the sentence at normal and double speed, then with each broken folder."""
    root = tmp_path_factory.mktemp("coqui-spoken")
    jobs = {
        "normal": {"voice": str(tiny_model), "out": str(root / "normal.wav")},
        "fast": {"voice": str(tiny_model), "out": str(root / "fast.wav"), "speed": 2.0},
    }
    for kind in BROKEN:
        jobs[kind] = {"voice": str(broken_copy(tiny_model, kind, root)), "out": str(root / f"{kind}.wav")}
    results = run_in_coqui_venv(coqui_python, "speak", SENTENCE, json.dumps(list(jobs.values())))
    assert len(results) == len(jobs), results
    return dict(zip(jobs, results, strict=True))


def test_a_coqui_model_folder_speaks_at_its_own_sample_rate(spoken, tiny_model):
    assert "error" not in spoken["normal"], spoken["normal"]
    audio = read_audio(Path(spoken["normal"]["wav"]))
    config = json.loads((tiny_model / "config.json").read_text())
    assert audio.rate == config["audio"]["sample_rate"] == 22050
    assert 0.5 < audio.seconds < 10, f"{audio.seconds:.2f} s for {len(SENTENCE)} characters"
    assert np.abs(audio.samples).max() > 0.01
    assert np.sqrt(np.mean(audio.samples**2)) > 0.005


def test_coqui_audio_ends_without_padding_so_sentences_join_without_gaps(spoken):
    audio = read_audio(Path(spoken["normal"]["wav"]))
    tail = audio.samples[-int(0.2 * audio.rate):]
    assert np.abs(tail).max() > 0.001, "the last 0.2 s are silent: coqui's sentence padding was kept"


def test_a_faster_coqui_voice_speaks_the_same_sentence_in_less_time(spoken):
    normal, fast = spoken["normal"], spoken["fast"]
    assert "error" not in fast, fast
    assert fast["seconds"] < 0.8 * normal["seconds"]


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_coqui_model_folder_says_what_is_wrong(spoken, kind):
    result = spoken[kind]
    assert "error" in result, f"{kind}: spoke instead of failing: {result}"
    assert result["voice"] in result["error"]
    assert re.search(BROKEN[kind], result["error"]), result["error"]


def test_without_the_extra_a_coqui_voice_says_to_run_make_coqui(tmp_path):
    synthesizer = Synthesizer({}, models=None)
    with pytest.raises(TtsError, match="make coqui"):
        synthesizer.speak("Hallo.", "de", VoiceChoice("coqui", str(tmp_path)))
