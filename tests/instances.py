"""`hotline serve` as real processes, as an operator runs them: several instances on one database.

Each instance gets its own data folder and port, and the environment `deploy/` documents; they share the
model cache (the answer audio in it is written atomically, see voice.answer_audio).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 300  # models, index and greeting on a loaded two-core machine


@dataclass
class Instance:
    name: str
    url: str
    data_dir: Path
    log: Path
    process: subprocess.Popen

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else "(no log)"


def start(name: str, folder: Path, env: Mapping[str, str]) -> Instance:
    """Start `python -m hotline.cli serve` for instance `name` with its own data folder under `folder`."""
    port = free_port()
    data_dir = folder / f"data-{name}"
    data_dir.mkdir(parents=True, exist_ok=True)
    log = folder / f"server-{name}.log"
    environment = {**os.environ, **env, "HOTLINE__PATHS__DATA": str(data_dir), "HOTLINE__SERVER__INSTANCE": name}
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-render"],
            cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT)
    return Instance(name, f"http://127.0.0.1:{port}", data_dir, log, process)


def wait_healthy(instances: list[Instance], timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    waiting = list(instances)
    while waiting:
        for instance in list(waiting):
            if instance.process.poll() is not None:
                raise AssertionError(f"hotline serve {instance.name} exited ({instance.process.returncode}):\n"
                                     f"{instance.log_tail()}")
            try:
                if httpx.get(instance.url + "/healthz", timeout=2).status_code == 200:
                    waiting.remove(instance)
            except httpx.HTTPError:
                pass
        if time.monotonic() > deadline:
            raise AssertionError(f"hotline serve {[i.name for i in waiting]} not healthy within {timeout_s} s:\n"
                                 + "\n".join(i.log_tail() for i in waiting))
        time.sleep(0.5)


def stop(instance: Instance) -> None:
    instance.process.terminate()
    try:
        instance.process.wait(20)
    except subprocess.TimeoutExpired:
        instance.process.kill()
        instance.process.wait(10)


@contextmanager
def running(names: list[str], folder: Path, env: Mapping[str, str]) -> Iterator[dict[str, Instance]]:
    """All instances started at the same moment (on an empty database, they migrate it together)."""
    with ExitStack() as stack:
        instances = {}
        for name in names:
            instances[name] = start(name, folder, env)
            stack.callback(stop, instances[name])
        wait_healthy(list(instances.values()))
        yield instances


def hotline(*args: str, env: Mapping[str, str], stdin: str | None = None) -> subprocess.CompletedProcess:
    """A `hotline` command, as an operator types it."""
    return subprocess.run([sys.executable, "-m", "hotline.cli", *args], cwd=ROOT, env={**os.environ, **env},
                          input=stdin, capture_output=True, text=True, timeout=300, check=False)
