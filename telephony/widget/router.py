"""The widget's HTTP side: the script a page embeds, its audio worklet, the socket, and a demo page.

Mount with `app.include_router(create_widget_router(voice_services, sink))`:

- `GET /widget.js`: the one script a page needs (`<script src="https://HOST/widget.js" defer></script>`);
- `GET /widget/worklet.js`: the AudioWorklet that turns the microphone into 16 kHz PCM16;
- `WS /widget/ws`: the conversation (see `telephony.widget.protocol`);
- `GET /`: a demo page of a Welcome Center website with the widget on it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import HTMLResponse, Response

from pipeline.records import TranscriptSink
from telephony.widget.config import LOOPBACK_ORIGINS, OriginPolicy, WidgetConfig, origin_of
from telephony.widget.limits import SessionCount
from telephony.widget.session import TRY_LATER, AgentFactory, EventHandler, WidgetSession
from telephony.widget.texts import RTL_LANGUAGES, load_panel_texts

log = logging.getLogger("hotline.widget")
STATIC = Path(__file__).resolve().parent / "static"
SCRIPT_HEADERS = {
    "Cache-Control": "no-cache",  # revalidated by ETag, so an update reaches visitors at once
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "cross-origin",  # embedded by other sites
    "Access-Control-Allow-Origin": "*",  # the worklet is loaded with CORS from the embedding page
}
# As strict as a careful site would be: the widget needs no inline code and no host but ours.
DEMO_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                               "base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_widget_router(
    services: Any,
    sink: TranscriptSink | None,
    *,
    config: WidgetConfig | None = None,
    clock: Callable[[], datetime] = utc_now,
    agent_factory: AgentFactory | None = None,
    demo_page: bool = True,
) -> APIRouter:
    """The widget's routes over `services` (a `pipeline.voice_agent.VoiceServices`); callbacks and
    transcripts go to `sink`. `config` defaults to `settings.widget` when there is such a section."""
    settings = services.settings
    dialogue = services.dialogue
    config = config or WidgetConfig.from_settings(settings)
    policy = OriginPolicy(config.allowed_origins, own=(origin_of(settings.server.public_url),))
    make_agent = agent_factory or _voice_agent_factory(services, sink, clock)
    script = _render_script(settings, dialogue)
    worklet = (STATIC / "worklet.js").read_text(encoding="utf-8")
    demo = (STATIC / "demo.html").read_text(encoding="utf-8")
    demo_css = (STATIC / "demo.css").read_text(encoding="utf-8")
    active = SessionCount(config.max_sessions, config.max_sessions_per_address)
    router = APIRouter(include_in_schema=False)

    @router.get("/widget.js")
    def widget_script(request: Request) -> Response:
        return _cached(request, script, "text/javascript; charset=utf-8")

    @router.get("/widget/worklet.js")
    def widget_worklet(request: Request) -> Response:
        return _cached(request, worklet, "text/javascript; charset=utf-8")

    if demo_page:
        @router.get("/", response_class=HTMLResponse)
        def demo_site() -> HTMLResponse:
            return HTMLResponse(demo, headers=DEMO_HEADERS)

        @router.get("/widget/demo.css")
        def demo_style(request: Request) -> Response:
            return _cached(request, demo_css, "text/css; charset=utf-8")

    @router.websocket("/widget/ws")
    async def widget_socket(websocket: WebSocket) -> None:
        origin = websocket.headers.get("origin")
        if not policy.allows(origin, host=websocket.headers.get("host"), secure=websocket.url.scheme == "wss"):
            log.warning("widget: refused a socket from origin %r (not in widget.allowed_origins)", origin)
            await websocket.close(code=1008)  # before accept: the browser sees HTTP 403
            return
        call_id = f"web-{uuid.uuid4().hex[:16]}"
        session = WidgetSession(websocket, call_id, make_agent, dialogue, sink, config, clock)
        observer = getattr(services, "observer", None)
        # Behind the reverse proxy uvicorn has already put the visitor's address here (from X-Forwarded-For,
        # trusted only from forwarded_allow_ips); a header the visitor sets is not believed.
        address = websocket.client.host if websocket.client else "unknown"
        refused = active.claim(address)
        if refused is not None:
            # Counted in /metrics, not logged: a flood of refusals must not become a flood of log lines.
            await session.refuse(refused.code, TRY_LATER, refused.code, str(refused))
            if observer:
                observer.call_refused("widget", refused.code)
            return
        try:
            outcome = await session.run()
            log.info("widget %s: ended (%s)", call_id, outcome)
            if outcome == "error" and observer:
                observer.error("widget")
        finally:
            active.release(address)

    return router


def _voice_agent_factory(services: Any, sink: TranscriptSink | None,
                         clock: Callable[[], datetime]) -> AgentFactory:
    from pipeline.voice_agent import VoiceAgent

    def make(call_id: str, on_event: EventHandler, records: TranscriptSink | None) -> VoiceAgent:
        # `records` is the session's consented view of `sink`.
        return VoiceAgent(services, 16_000, "widget", call_id, records, clock=clock, on_event=on_event,
                          captions=True, spoken_callback=False, can_transfer=False, live_playback=True)

    return make


def _render_script(settings: Any, dialogue: Any) -> str:
    """widget.js with its configuration filled in: texts, languages, styles (one request, nothing else)."""
    languages = settings.languages
    texts = load_panel_texts(languages)
    names = {code: dialogue.phrases.say(code, "language_name") for code in languages}
    widget_config = {
        "languages": [{"code": c, "name": names[c], "dir": "rtl" if c in RTL_LANGUAGES else "ltr"}
                      for c in languages],
        "defaultLanguage": settings.default_language,
        "texts": texts,
        "css": (STATIC / "widget.css").read_text(encoding="utf-8"),
    }
    source = (STATIC / "widget.js").read_text(encoding="utf-8")
    marker = "/*__WIDGET_CONFIG__*/{}"
    if marker not in source:
        raise RuntimeError(f"{STATIC / 'widget.js'} lost its configuration marker {marker!r}")
    literal = json.dumps(widget_config, ensure_ascii=False).replace("</", "<\\/")
    return source.replace(marker, literal)


def _cached(request: Request, body: str, media_type: str) -> Response:
    etag = '"' + hashlib.sha256(body.encode("utf-8")).hexdigest()[:32] + '"'
    headers = {**SCRIPT_HEADERS, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


__all__ = ["LOOPBACK_ORIGINS", "create_widget_router"]
