"""The FastAPI app factory: one server for the API, and (as they are built) Twilio, the widget and review."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

from hotline import logs
from hotline.clock import parse_moment
from hotline.ratelimit import AddressRateLimit
from hotline.settings import Settings
from pipeline.dialogue import Conversation, Dialogue

log = logging.getLogger("hotline")


class AskRequest(BaseModel):
    text: str = Field(description="The caller's question, in any served language", max_length=20_000)
    lang: str | None = Field(default=None, description="Force the answer language (a served code)")
    at: str | None = Field(default=None, description="ISO time to answer as of (default: now)")


class SourceOut(BaseModel):
    title: str
    url: str


class AskResponse(BaseModel):
    language: str
    action: str
    answer: str
    topic: str | None
    sources: list[SourceOut]
    confidence: float
    intent: str | None
    details: str
    question: str
    unanswered: bool
    timings_ms: dict[str, float]


@dataclass
class Services:
    """What the app needs, built once by the composition root and injected (tests pass their own).

    Only the dialogue is required; the transcript store (review UI) and the voice services (phone, widget)
    are mounted when given."""

    settings: Settings
    dialogue: Dialogue
    store: Any = None  # review.store.TranscriptStore
    voice: Any = None  # pipeline.voice_agent.VoiceServices
    sink: Any = None  # where the channels write (review.journal.JournaledSink over the store); default: store
    review_secret: str | None = None
    metrics: Any = None  # hotline.metrics.HotlineMetrics; made by create_app when not given
    started: datetime = field(default_factory=lambda: parse_moment(None, "UTC"))


def create_app(services: Services) -> FastAPI:
    settings = services.settings
    logs.keep_contents_out()  # also when served by another runner than `hotline serve`

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        retention = None
        if services.store is not None:
            from review.retention import RetentionTask

            retention = RetentionTask(services.store, settings.storage.retention_days)
            retention.start()
        try:
            yield
        finally:
            if retention is not None:
                await retention.stop()
            if hasattr(services.sink, "close"):
                await asyncio.to_thread(services.sink.close)

    app = FastAPI(
        title="Mittelhessen welcome hotline",
        description="Voice and phone hotline of the Welcomecenter Mittelhessen.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.services = services
    _mount_metrics(app, services)
    _mount_channels(app, services)
    examples = settings.operator.example_values
    if examples:
        log.warning("config/hotline.yaml still has EXAMPLE values for: %s", ", ".join(examples))

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, object]:
        health: dict[str, object] = {
            "status": "ok",
            "instance": settings.server.instance,  # which one answered, behind a proxy
            "languages": list(settings.languages),
            "topics": len(services.dialogue.knowledge.topics),
            "example_values": list(examples),
        }
        if hasattr(services.sink, "health"):
            # Calls go on while the database is away; their writes wait in the journal (pending).
            journal = services.sink.health()
            health["journal"] = journal.to_json()
            if journal.store == "down":
                health["status"] = "degraded"
        return health

    asks = AddressRateLimit(settings.api.ask_per_min, settings.api.ask_burst)

    @app.post("/api/ask", response_model=AskResponse, tags=["dialogue"],
              responses={429: {"description": "Too many questions from this address; see Retry-After"}})
    async def ask(request: AskRequest, http: Request) -> dict[str, object]:
        """Answer one question as the hotline would on a call (text in, the same JSON as `hotline ask`)."""
        # uvicorn has put the client's address here, from X-Forwarded-For only when the proxy is trusted.
        wait_s = asks.retry_after(http.client.host if http.client else "unknown")
        if wait_s is not None:
            retry = max(1, math.ceil(wait_s))
            raise HTTPException(429, f"too many questions from this address (at most {settings.api.ask_burst} at "
                                     f"once, {settings.api.ask_per_min:g} a minute); try again in {retry} s",
                                headers={"Retry-After": str(retry)})
        if request.lang and request.lang not in settings.languages:
            raise HTTPException(422, f"lang {request.lang!r} is not served; use one of {list(settings.languages)}")
        try:
            at = parse_moment(request.at, settings.opening_hours.timezone)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        conversation = Conversation.in_language(request.lang)
        reply = await asyncio.to_thread(services.dialogue.respond, conversation, request.text, at)
        return reply.to_json()

    return app


def _mount_metrics(app: FastAPI, services: Services) -> None:
    """/metrics, counted from what the rooms report: the recorder of every call, the channels, the store."""
    from hotline.metrics import HotlineMetrics, create_metrics_router

    settings = services.settings
    metrics = services.metrics or HotlineMetrics(phone_lines=settings.telephony.max_concurrent_calls)
    services.metrics = metrics
    if services.voice is not None:
        services.voice.observer = metrics
        metrics.watch_recognition_queue(lambda: services.voice.recognition_waiting)
    health = getattr(services.sink, "health", None)
    if callable(health):  # the journal in front of the store: writes waiting for the database
        metrics.watch_journal(lambda: health().pending)
    app.include_router(create_metrics_router(metrics, settings.metrics.token))


def _mount_channels(app: FastAPI, services: Services) -> None:
    """The review UI needs the store; the phone and the widget need the voice services."""
    if services.store is not None:
        from review.auth import SECRET_NAME, PasswordGate
        from review.web import create_review_router

        review = services.settings.review
        # From the config or the environment, else the database: never a file in one instance's data folder.
        secret = services.review_secret or review.secret_key or services.store.accounts.shared_secret(SECRET_NAME)
        gate = PasswordGate(review.login_concurrency, review.login_queue, per_min=review.login_checks_per_min,
                            burst=review.login_burst)
        dialogue = services.dialogue
        app.include_router(create_review_router(services.store, secret, gate=gate,
                                                session_max_age_s=round(review.session_hours * 3600),
                                                topics=lambda: dialogue.knowledge.topics.values()))
    if services.voice is not None:
        from telephony.widget import create_widget_router

        sink = services.sink if services.sink is not None else services.store
        app.include_router(create_widget_router(services.voice, sink, config=services.settings.widget))
        from telephony.router import create_twilio_router

        # The question a caller brings to staff lives in the database itself (not the journal): the dial
        # result may come back to another instance.
        transfers = services.store if services.store is not None else None
        known_calls = services.store.has_call if services.store is not None else None
        app.include_router(create_twilio_router(services.settings, services.voice, sink, transfers=transfers,
                                                known_calls=known_calls))
