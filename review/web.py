"""The staff review UI under /review: server-rendered pages, no JavaScript needed.

Mount with `app.include_router(create_review_router(store, secret_key))`. Everything except the login page
needs a staff session; a browser without one is sent to the login page, an API client gets 401.
"""

# No `from __future__ import annotations` here: FastAPI reads the route signatures at runtime, and the
# session dependency is defined inside create_review_router, out of reach of string annotations.
import base64
import hashlib
from collections.abc import Callable, Coroutine, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from pipeline.config import KNOWN_LANGUAGES
from pipeline.records import CHANNELS
from review import charts
from review.auth import (
    COOKIE,
    SESSION_MAX_AGE_S,
    LoginThrottle,
    PasswordGate,
    SessionBook,
    SessionCodec,
    StaffSession,
)
from review.i18n import DEFAULT, LANGUAGES, translator
from review.queries import ACTIONS, jsonable
from review.store import UNKNOWN_CHANNEL, TranscriptStore
from review.web_forms import filters_from_query, period_days, safe_next

PACKAGE = Path(__file__).resolve().parent
PAGE_SIZE = 50


def create_review_router(
    store: TranscriptStore,
    secret_key: str,
    templates_dir: Path | str | None = None,
    *,
    throttle: LoginThrottle | None = None,
    gate: PasswordGate | None = None,
    session_max_age_s: int = SESSION_MAX_AGE_S,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    topics: Callable[[], Iterable[Any]] = tuple,
) -> APIRouter:
    """The /review pages over `store`; `secret_key` signs the login form's cookie (the same on every instance).

    Sessions and failed logins are kept in `store`'s database, so several instances on it share them."""
    book = SessionBook(SessionCodec(secret_key, session_max_age_s), store.accounts, clock)
    throttle = throttle or LoginThrottle(store.accounts)
    gate = gate or PasswordGate()
    css = (PACKAGE / "static" / "review.css").read_text(encoding="utf-8")
    css_hash = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    headers = {
        # Styles only from our one inline block; no scripts at all; forms only to ourselves.
        "Content-Security-Policy": f"default-src 'none'; style-src 'sha256-{css_hash}'; img-src 'self' data:; "
                                   "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",  # the pages hold callers' words
    }
    env = Environment(loader=FileSystemLoader(str(templates_dir or PACKAGE / "templates")), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["local"] = lambda moment: moment.astimezone(store.timezone).strftime("%Y-%m-%d %H:%M:%S")
    env.filters["href"] = lambda url: url if str(url).startswith(("https://", "http://")) else None
    env.filters["urlpart"] = lambda value: quote(str(value), safe="")
    router = APIRouter(prefix="/review", route_class=_route_class(headers), include_in_schema=False)

    def cookie(response: Response, request: Request, session: StaffSession) -> Response:
        response.set_cookie(COOKIE, book.cookie(session), max_age=book.max_age_s, path="/review",
                            httponly=True, samesite="lax", secure=request.url.scheme == "https")
        return response

    def session_of(request: Request) -> StaffSession | None:
        return book.load(request.cookies.get(COOKIE))

    def staff(request: Request) -> StaffSession:
        session = session_of(request)
        if session is not None and session.user:
            return session
        if request.url.path.startswith("/review/api/") or "application/json" in request.headers.get("accept", ""):
            raise HTTPException(401, "login required: POST user name and password to /review/login",
                                headers={"Cache-Control": "no-store"})
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise HTTPException(303, "login required", headers={
            "Location": "/review/login?" + urlencode({"next": target}), "Cache-Control": "no-store"})

    StaffDep = Annotated[StaffSession, Depends(staff)]

    def language(request: Request, session: StaffSession) -> str:
        """The UI language: ?lang= when given (and then remembered), else the session's."""
        wanted = request.query_params.get("lang")
        if wanted in LANGUAGES:
            return str(wanted)
        return session.lang if session.lang in LANGUAGES else DEFAULT

    def render(request: Request, session: StaffSession, template: str, status: int = 200,
               **context: Any) -> HTMLResponse:
        lang = language(request, session)
        changed = lang != session.lang
        if changed:
            session = book.with_lang(session, lang)
        base = {k: v for k, v in request.query_params.items() if k != "lang"}
        html = env.get_template(template).render(
            t=translator(lang), lang=lang, session=session, css=Markup(css), path=request.url.path,
            lang_urls={code: f"{request.url.path}?{urlencode({**base, 'lang': code})}" for code in LANGUAGES},
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        return cookie(response, request, session) if changed or not session.user else response

    def csrf_refusal(request: Request, session: StaffSession, token: str) -> Response | None:
        """A 403 page when the form's token is not this session's, else None."""
        if session.csrf_ok(token):
            return None
        return render(request, session, "message.html", 403, message="csrf_failed")

    # --- login -----------------------------------------------------------------------------------------

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "") -> Response:
        session = session_of(request) or StaffSession.anonymous()
        if session.user:
            return RedirectResponse(safe_next(next), status_code=303)
        return render(request, session, "login.html", next=safe_next(next), problem=None)

    @router.post("/login", response_class=HTMLResponse)
    def login(request: Request, username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
              csrf_token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "") -> Response:
        session = session_of(request)
        if session is None or not session.csrf_ok(csrf_token):
            fresh = StaffSession.anonymous(session.lang if session else DEFAULT)
            return render(request, fresh, "login.html", 403, next=safe_next(next), problem="csrf_failed")
        address = request.client.host if request.client else "unknown"
        wait = throttle.locked_for(username, address)
        if wait:
            return render(request, session, "login.html", 429, next=safe_next(next), problem="locked",
                          minutes=max(1, round(wait / 60)))
        with gate.admitted() as admitted:
            if not admitted:
                busy = render(request, session, "login.html", 503, next=safe_next(next), problem="login_busy")
                busy.headers["Retry-After"] = "30"
                return busy
            verified = store.verify_user(username, password)
        opened = book.log_in(session, username.strip()) if verified else None
        if opened is None:
            throttle.failed(username, address)
            return render(request, session, "login.html", 401, next=safe_next(next), problem="login_failed")
        throttle.succeeded(username, address)
        return cookie(RedirectResponse(safe_next(next), status_code=303), request, opened)

    @router.post("/logout")
    def logout(request: Request, session: StaffDep, csrf_token: Annotated[str, Form()] = "") -> Response:
        if refusal := csrf_refusal(request, session, csrf_token):
            return refusal
        response = RedirectResponse("/review/login", status_code=303)
        return cookie(response, request, book.log_out(session))

    # --- calls -----------------------------------------------------------------------------------------

    @router.get("", response_class=HTMLResponse)
    def home(session: StaffDep) -> Response:
        return RedirectResponse("/review/calls", status_code=303)

    @router.get("/calls", response_class=HTMLResponse)
    def calls(request: Request, session: StaffDep, page: int = 1) -> Response:
        filters, problems = filters_from_query(request.query_params)
        page = max(1, page)
        total = store.count_calls(filters)
        rows = store.list_calls(filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        query = {k: v for k, v in request.query_params.items() if k not in ("page", "lang") and v}
        return render(request, session, "calls.html", calls=rows, total=total, page=page,
                      pages=max(1, -(-total // PAGE_SIZE)), filters=filters, problems=problems,
                      query=query, actions=ACTIONS, export_query=urlencode(query),
                      languages=KNOWN_LANGUAGES, channels=(*CHANNELS, UNKNOWN_CHANNEL),
                      page_url=lambda n: "/review/calls?" + urlencode({**query, "page": n}))

    @router.get("/calls/{call_id}", response_class=HTMLResponse)
    def call_page(request: Request, session: StaffDep, call_id: str) -> Response:
        detail = store.get_call(call_id)
        if detail is None:
            return render(request, session, "message.html", 404, message="not_found")
        return render(request, session, "call.html", detail=detail,
                      flagged=request.query_params.get("flagged") == "1")

    @router.post("/calls/{call_id}/flag")
    def flag(request: Request, session: StaffDep, call_id: str, turn_id: Annotated[int, Form()],
             note: Annotated[str, Form(max_length=4000)] = "",
             csrf_token: Annotated[str, Form()] = "") -> Response:
        if refusal := csrf_refusal(request, session, csrf_token):
            return refusal
        detail = store.get_call(call_id)
        if detail is None or turn_id not in {turn.id for turn in detail.turns}:
            return render(request, session, "message.html", 404, message="not_found")
        store.flag_turn(turn_id, session.user or "?", note, at=clock())
        return RedirectResponse(f"/review/calls/{quote(call_id, safe='')}?flagged=1#turn-{turn_id}", 303)

    @router.get("/flags", response_class=HTMLResponse)
    def flags(request: Request, session: StaffDep) -> Response:
        return render(request, session, "flags.html", flags=store.list_flags())

    # --- callbacks ---------------------------------------------------------------------------------------

    @router.get("/callbacks", response_class=HTMLResponse)
    def callbacks(request: Request, session: StaffDep, show: str = "open") -> Response:
        done = show == "done"
        return render(request, session, "callbacks.html", callbacks=store.list_callbacks(done=done), done=done,
                      marked=request.query_params.get("marked") == "1")

    @router.post("/callbacks/{callback_id}/done")
    def callback_done(request: Request, session: StaffDep, callback_id: int,
                      csrf_token: Annotated[str, Form()] = "") -> Response:
        if refusal := csrf_refusal(request, session, csrf_token):
            return refusal
        store.mark_callback_done(callback_id, session.user, at=clock())
        return RedirectResponse("/review/callbacks?marked=1", status_code=303)

    # --- knowledge gaps, dashboard, export --------------------------------------------------------------

    @router.get("/gaps", response_class=HTMLResponse)
    def gaps(request: Request, session: StaffDep, days: int = 30) -> Response:
        days = period_days(days)
        groups = store.knowledge_gaps(since=clock() - timedelta(days=days))
        return render(request, session, "gaps.html", groups=groups, days=days)

    @router.get("/dashboard", response_class=HTMLResponse)
    def dashboard(request: Request, session: StaffDep, days: int = 30) -> Response:
        days = period_days(days)
        stats = store.dashboard_stats(days, now=clock())
        t = translator(language(request, session))
        today = clock().astimezone(store.timezone).date()
        # Topics whose dated facts (a new amount, price or threshold) are past or due within 30 days: re-check them.
        dated = sorted(((topic.valid_until, topic.id, state) for topic in topics()
                        if (state := topic.expiry(today))), key=lambda row: (row[0], row[1]))
        return render(
            request, session, "dashboard.html", stats=stats, days=days, dated=dated,
            calls_chart=charts.stacked_days(t("calls_per_day"), stats.days, stats.calls_by_language,
                                            stats.languages),
            action_chart=charts.horizontal_bars(t("action_mix"), stats.action_mix,
                                                {a: t(f"a_{a}") for a in stats.action_mix}),
            latency_chart=charts.latency_lines(t("latency_chart"), stats.days, {
                "p50": {p.day: p.p50 for p in stats.latency}, "p95": {p.day: p.p95 for p in stats.latency}}),
        )

    @router.get("/export.csv")
    def export_csv(request: Request, session: StaffDep) -> Response:
        return _download(store.export_calls("csv", filters_from_query(request.query_params)[0]),
                         "text/csv; charset=utf-8", f"calls-{clock():%Y%m%d}.csv")

    @router.get("/export.json")
    def export_json(request: Request, session: StaffDep) -> Response:
        return _download(store.export_calls("json", filters_from_query(request.query_params)[0]),
                         "application/json", f"calls-{clock():%Y%m%d}.json")

    # --- JSON for scripts ---------------------------------------------------------------------------------

    @router.get("/api/calls")
    def api_calls(request: Request, session: StaffDep, page: int = 1) -> JSONResponse:
        filters, _ = filters_from_query(request.query_params)
        rows = store.list_calls(filters, limit=PAGE_SIZE, offset=(max(1, page) - 1) * PAGE_SIZE)
        return JSONResponse({"total": store.count_calls(filters), "calls": jsonable(rows)})

    @router.get("/api/calls/{call_id}")
    def api_call(session: StaffDep, call_id: str) -> JSONResponse:
        detail = store.get_call(call_id)
        if detail is None:
            raise HTTPException(404, f"no call {call_id!r}")
        return JSONResponse(jsonable(detail))

    @router.get("/api/stats")
    def api_stats(session: StaffDep, days: int = 30) -> JSONResponse:
        return JSONResponse(jsonable(store.dashboard_stats(period_days(days), now=clock())))

    return router


def _download(body: str, media_type: str, filename: str) -> Response:
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _route_class(headers: dict[str, str]) -> type[APIRoute]:
    """Routes that add the security headers to every response they produce."""

    class HardenedRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def with_headers(request: Request) -> Response:
                response = await handler(request)
                for name, value in headers.items():
                    response.headers.setdefault(name, value)
                return response

            return with_headers

    return HardenedRoute

