"""The abuse run: phone calls while one address holds widget sockets that never speak and floods the login.

What an abuser on one address can do without credentials: open the widget socket again and again without
saying hello (each holds a place until the hello timeout), and post wrong passwords under ever new names (each
costs an argon2 check). The phone calls are the same simulated Twilio callers as the concurrent-calls run,
on the same kind of `hotline serve` process; their voice-to-voice p95 is what the abuse must not spoil.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections import Counter
from pathlib import Path

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from bench.phone import callers, crowd, hotline_server
from bench.stats import percentile
from voice.audio import Audio

PHONE_CALLS = 8
SILENT_SOCKETS = 40
LOGIN_FLOODERS = 12  # posts in flight at once: more than the login gate admits and queues (2 + 8)
RECONNECT_PAUSE_S = 0.5  # a refused or closed socket opens again after this long
HEAD_START_S = 3.0  # the abuse is in full swing before the first call rings


async def silent_sockets(url: str, count: int, stop: asyncio.Event) -> Counter[str]:
    """`count` widget sockets from this address that never say hello, each reopened when the server ends it;
    counts how the server ended them (by the error code it sent, or how the connection failed)."""
    endings: Counter[str] = Counter()
    socket_url = url.replace("http://", "ws://") + "/widget/ws"

    async def one() -> None:
        while not stop.is_set():
            code = "open_failed"
            try:
                async with connect(socket_url, origin=url, open_timeout=10) as ws:
                    code = "closed"
                    while True:
                        frame = await ws.recv()
                        if isinstance(frame, str) and (found := re.search(r'"code":\s*"(\w+)"', frame)):
                            code = found.group(1)
            except ConnectionClosed:
                pass
            except (OSError, InvalidHandshake, TimeoutError):
                code = "open_failed"
            endings[code] += 1
            await asyncio.sleep(RECONNECT_PAUSE_S)

    await asyncio.gather(*(one() for _ in range(count)))
    return endings


async def login_flood(url: str, stop: asyncio.Event) -> Counter[int]:
    """Wrong passwords under a new name each time (the throttle per name does not stop that); counts the
    answers by HTTP status."""
    answers: Counter[int] = Counter()
    attempt = 0
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        page = await client.get("/review/login")
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        if page.status_code != 200 or not found:
            answers[page.status_code] += 1  # no review UI on this server: nothing to flood
            return answers
        token = found.group(1)

        async def flooder() -> None:
            nonlocal attempt
            while not stop.is_set():
                attempt += 1
                try:
                    response = await client.post("/review/login", data={
                        "username": f"staff{attempt}", "password": "not-the-password", "csrf_token": token})
                    answers[response.status_code] += 1
                except httpx.HTTPError:
                    answers[0] += 1

        await asyncio.gather(*(flooder() for _ in range(LOGIN_FLOODERS)))
    return answers


async def calls_under_abuse(url: str, token: str, group: list) -> tuple[list[float], Counter[str], Counter[int]]:
    stop = asyncio.Event()
    sockets = asyncio.create_task(silent_sockets(url, SILENT_SOCKETS, stop))
    logins = asyncio.create_task(login_flood(url, stop))
    await asyncio.sleep(HEAD_START_S)
    try:
        latencies = await crowd(url, token, group)
    finally:
        stop.set()
    return latencies, await sockets, await logins


def bench_abuse(questions: list[tuple[Audio, str]], languages: list[str]) -> dict:
    """Voice-to-voice p50/p95 of `PHONE_CALLS` calls at once while the abuse runs, and what the abuse got."""
    with tempfile.TemporaryDirectory(prefix="hotline-abuse-") as tmp, \
            hotline_server(Path(tmp), max_calls=PHONE_CALLS + 2) as (url, token):
        served = len({lang for _, lang in questions})
        print(f"  warm-up: {served} calls, one per language ...", flush=True)
        asyncio.run(crowd(url, token, callers(questions, languages, served, 1)))
        print(f"  {PHONE_CALLS} phone calls while {SILENT_SOCKETS} silent widget sockets and a login flood come "
              "from one address ...", flush=True)
        group = callers(questions, languages, PHONE_CALLS, 2)
        latencies, sockets, logins = asyncio.run(calls_under_abuse(url, token, group))
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    print(f"  under abuse: voice-to-voice p50 {p50:6.0f} ms  p95 {p95:6.0f} ms ({len(latencies)} questions); "
          f"widget sockets ended {dict(sockets)}; login answers {dict(sorted(logins.items()))}", flush=True)
    return {"phone_calls": PHONE_CALLS, "p50": round(p50), "p95": round(p95), "n": len(latencies),
            "silent_sockets": SILENT_SOCKETS, "socket_endings": dict(sockets),
            "login_answers": {str(status): n for status, n in sorted(logins.items())}}
