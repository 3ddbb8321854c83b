"""Concurrent phone calls: N simulated Twilio callers on loopback against a real `hotline serve` process.

Each caller does what a caller does: the webhook (signed), the media socket, the greeting, a language key,
then questions spoken in real time as 8 kHz mu-law, each answer heard to the end before the next question.
Voice-to-voice latency is measured at the caller's ear: from the last 20 ms of the question sent to the first
answer audio received. The server runs in its own process with its own models, as in production; the fake
Twilio REST API runs here.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.stats import percentile
from pipeline.processors import KEYS
from telephony.simulator import TwilioSimulator, fluent
from telephony.simulator.fake_api import FakeTwilioApi
from voice.audio import Audio

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_SID = "AC" + "b" * 32


class BenchError(RuntimeError):
    pass


@dataclass(frozen=True)
class Caller:
    language: str
    key: str  # the menu key for the language
    questions: tuple[Audio, ...]


def callers(questions: list[tuple[Audio, str]], languages: list[str], n: int, per_call: int) -> list[Caller]:
    """N callers over the languages in turn, each asking `per_call` of its language's questions."""
    by_language: dict[str, list[Audio]] = {}
    for audio, language in questions:
        by_language.setdefault(language, []).append(fluent(audio))
    served = [lang for lang in languages if lang in by_language]
    chosen = []
    for i in range(n):
        language = served[i % len(served)]
        pool = by_language[language]
        asked = tuple(pool[(i // len(served) + k) % len(pool)] for k in range(per_call))
        chosen.append(Caller(language, KEYS[languages.index(language)], asked))
    return chosen


async def call(twilio: TwilioSimulator, caller: Caller, number: int) -> list[float]:
    """One whole call; returns the voice-to-voice latency of each question in ms."""
    placed = await twilio.incoming_call(from_number=f"+49151{number:08d}")
    if not placed.twiml.stream_url:
        raise BenchError(f"call {number} got no media stream (HTTP {placed.twiml.status}): {placed.twiml.body[:200]}")
    latencies = []
    async with placed.connect() as line:
        await line.wait_for_audio(since=0, timeout_s=60)
        await line.press(caller.key)  # over the greeting: stops it, then "we go on in <language>"
        await line.wait_until(lambda: bool(line.clears), 10, "clear after the language key")
        await line.wait_for_answer(since=line.clears[-1], quiet_s=1.0, timeout_s=60)
        for question in caller.questions:
            await line.say(question)
            asked = line.spoken_until
            await line.wait_for_audio(since=asked, timeout_s=60)
            first = min(c.starts for c in line.heard_chunks if c.starts >= asked)
            latencies.append((first - asked) * 1000)
            await line.wait_for_answer(since=asked, quiet_s=1.0, timeout_s=90)
        await line.hang_up()
    return latencies


async def crowd(url: str, auth_token: str, group: list[Caller]) -> list[float]:
    twilio = TwilioSimulator(url, ACCOUNT_SID, auth_token)
    results = await asyncio.gather(*(call(twilio, caller, i) for i, caller in enumerate(group)))
    return [ms for latencies in results for ms in latencies]


@contextmanager
def hotline_server(log_dir: Path, max_calls: int) -> Iterator[tuple[str, str]]:
    """`hotline serve` on a free loopback port, its Twilio REST API pointed at a local fake; yields (url, token)."""
    auth_token = secrets.token_hex(16)
    api = FakeTwilioApi(ACCOUNT_SID, auth_token)
    api_url = api.start()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": auth_token,
           "TWILIO_API_BASE_URL": api_url, "HOTLINE_PUBLIC_URL": url,
           "DATABASE_URL": f"sqlite:///{log_dir / 'bench-calls.db'}",
           "HOTLINE__TELEPHONY__MAX_CONCURRENT_CALLS": str(max_calls)}
    log = (log_dir / "server.log").open("w")
    # --no-render: the answers the bench asks for are rendered beforehand; rendering the rest meanwhile would
    # compete with the calls for the two cores.
    server = subprocess.Popen([sys.executable, "-m", "hotline.cli", "serve", "--host", "127.0.0.1", "--port",
                               str(port), "--no-render"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None:
                raise BenchError(f"hotline serve exited ({server.returncode}); see {log_dir / 'server.log'}")
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"hotline serve did not answer /healthz within 180 s; see {log_dir / 'server.log'}")
            time.sleep(0.5)
        yield url, auth_token
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        api.stop()


def bench_phone_calls(questions: list[tuple[Audio, str]], languages: list[str], sizes: tuple[int, ...]) -> dict:
    """Voice-to-voice p50/p95 per number of simultaneous calls, and the largest N with p95 <= 2 s."""
    results: dict[str, dict | int] = {}
    best = 0
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp, \
            hotline_server(Path(tmp), max_calls=max(sizes) + 2) as (url, token):
        served = len({lang for _, lang in questions})
        print(f"  warm-up: {served} calls, one per language (greeting and answers into the server's caches) ...",
              flush=True)
        asyncio.run(crowd(url, token, callers(questions, languages, served, 1)))
        for n in sizes:
            per_call = max(2, 6 // n)  # at least six questions per N
            latencies = asyncio.run(crowd(url, token, callers(questions, languages, n, per_call)))
            p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
            results[str(n)] = {"p50": round(p50), "p95": round(p95), "n": len(latencies)}
            print(f"  {n:2d} concurrent calls: voice-to-voice p50 {p50:6.0f} ms  p95 {p95:6.0f} ms "
                  f"({len(latencies)} questions)", flush=True)
            if p95 <= 2000:
                best = n
            else:
                break
    results["max_n_p95_under_2s"] = best
    return results
