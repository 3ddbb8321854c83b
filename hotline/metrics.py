"""/metrics in Prometheus' text format: what one instance is doing, counted from what the rooms report.

`HotlineMetrics` is a `pipeline.observers.CallObserver`: the recorder tells it of every call's start and end
and every turn record, the channels of calls turned away and faults. It counts actions, languages, outcomes
and timings, never words. Each instance has its own registry and is scraped on its own (capacity is per
instance); Prometheus' `instance` label tells them apart.

>>> metrics = HotlineMetrics(phone_lines=8)
>>> voice_services.observer = metrics                      # doctest: +SKIP
>>> metrics.watch_recognition_queue(lambda: voice_services.recognition_waiting)
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from pipeline.observers import ERROR_KINDS
from pipeline.records import CHANNELS, TurnRecord

# Seconds; around the targets (p50 0.8 s, p95 1.5 s voice to voice; 2 s for a busy instance).
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)
# The turn's timings (milliseconds, see pipeline.voice_agent) by the stage name shown in /metrics.
STAGES = {"stt": "speech_recognition", "retrieval": "retrieval", "dialogue": "dialogue",
          "tts_first_audio": "first_answer_audio"}
# A request forwarded by a proxy is not local, whatever address the proxy connects from.
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


class HotlineMetrics:
    def __init__(self, phone_lines: int = 0, registry: CollectorRegistry | None = None) -> None:
        # A `_created` series per counter and histogram would double what is scraped and say nothing an
        # operator needs (prometheus-client's switch is process-wide).
        disable_created_metrics()
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.active_calls = Gauge("hotline_active_calls", "Calls in progress on this instance, by channel",
                                  ["channel"], registry=r)
        self.calls = Counter("hotline_calls", "Calls ended (or turned away), by channel and outcome",
                             ["channel", "outcome"], registry=r)
        self.turns = Counter("hotline_turns", "Turns answered, by action and language", ["action", "language"],
                             registry=r)
        self.unanswered = Counter("hotline_unanswered_turns", "Questions the knowledge base could not answer",
                                  ["language"], registry=r)
        self.voice_to_voice = Histogram(
            "hotline_voice_to_voice_seconds", "End of the caller's speech to the first answer audio",
            ["channel"], buckets=LATENCY_BUCKETS, registry=r)
        self.stages = Histogram("hotline_stage_seconds", "Time spent per stage of a turn", ["stage"],
                                buckets=LATENCY_BUCKETS, registry=r)
        self.errors = Counter("hotline_errors", "Errors by kind", ["kind"], registry=r)
        self.recognition_queue = Gauge("hotline_recognition_queue",
                                       "Utterances waiting for a speech recognition worker", registry=r)
        self.journal_depth = Gauge("hotline_store_journal_depth",
                                   "Records waiting in the local journal for the transcript store", registry=r)
        self.phone_lines = Gauge("hotline_phone_lines", "Concurrent phone calls this instance takes "
                                 "(telephony.max_concurrent_calls)", registry=r)
        self.phone_lines.set(phone_lines)
        self.recognition_queue.set_function(lambda: 0)
        self.journal_depth.set_function(lambda: 0)  # 0 until the store keeps a journal
        for channel in CHANNELS:  # present from the start, so a rate() has a series to work on
            self.active_calls.labels(channel)
        for kind in ERROR_KINDS:
            self.errors.labels(kind)

    # --- pipeline.observers.CallObserver ------------------------------------------------------------------
    def call_started(self, channel: str) -> None:
        self.active_calls.labels(channel).inc()

    def turn_recorded(self, channel: str, turn: TurnRecord) -> None:
        self.turns.labels(turn.action, turn.language).inc()
        if turn.unanswered:
            self.unanswered.labels(turn.language).inc()
        timings = turn.timings_ms
        if (v2v := timings.get("voice_to_voice")) is not None:
            self.voice_to_voice.labels(channel).observe(v2v / 1000)
        for key, stage in STAGES.items():
            value = timings.get(key)
            if value:  # a typed question has no speech recognition (0)
                self.stages.labels(stage).observe(value / 1000)

    def call_ended(self, channel: str, outcome: str) -> None:
        self.active_calls.labels(channel).dec()
        self.calls.labels(channel, outcome).inc()

    def call_refused(self, channel: str, outcome: str) -> None:
        self.calls.labels(channel, outcome).inc()

    def error(self, kind: str) -> None:
        self.errors.labels(kind).inc()

    # --- gauges read at scrape time -------------------------------------------------------------------------
    def watch_recognition_queue(self, depth: Callable[[], int]) -> None:
        self.recognition_queue.set_function(depth)

    def watch_journal(self, depth: Callable[[], int]) -> None:
        """The transcript store's journal (records not yet in the database) reports its depth here."""
        self.journal_depth.set_function(depth)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def create_metrics_router(metrics: HotlineMetrics, token: str | None) -> APIRouter:
    """GET /metrics: with `token`, for a request bearing it; without, for loopback requests not forwarded
    by a proxy (Prometheus on the same host). Anything else gets 404, as if there were nothing here."""
    router = APIRouter(include_in_schema=False)

    @router.get("/metrics")
    def scrape(request: Request) -> Response:
        if not _allowed(request, token):
            return PlainTextResponse("Not Found", status_code=404)
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    return router


def _allowed(request: Request, token: str | None) -> bool:
    if token:
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    if any(name in request.headers for name in FORWARDING_HEADERS):
        return False
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
