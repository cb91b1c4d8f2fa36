"""create_app(settings): the FastAPI application with the API, the web form and the worker."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intake import services
from intake.delivery.outbox import Notifier, OutboxWorker, WebStatusNotifier
from intake.domain.model import DomainError, PermissionDenied, ValidationFailed
from intake.http import api, deps, ratelimit, stats_api
from intake.http.web import board as web_board
from intake.http.web import board_analysis as web_board_analysis
from intake.http.web import board_entra as web_board_entra
from intake.http.web import board_measures as web_board_measures
from intake.http.web import board_meeting as web_board_meeting
from intake.http.web import board_report as web_board_report
from intake.http.web import docs as web_docs
from intake.http.web import form as web_form
from intake.http.web import mail_links as web_mail_links
from intake.http.web import newsletter as web_newsletter
from intake.http.web import pages as web_pages
from intake.http.web import report_link as web_report_link
from intake.http.web import status as web_status
from intake.http.web import suggest as web_suggest
from intake.http.web.pages import STATIC_DIR
from intake.i18n import Translator
from intake.ops.doctor import Check
from intake.services.context import build_context
from intake.settings import Settings
from intake.texts import error_text, field_error_text
from storage import async_driver

log = logging.getLogger("meld.app")

MAX_BODY_BYTES = 1_000_000

# pydantic error types -> our codes (the door's translation of shape errors)
_PYDANTIC_CODES = {
    "missing": "required",
    "enum": "invalid_choice",
    "literal_error": "invalid_choice",
    "string_too_long": "too_long",
    "date_from_datetime_parsing": "invalid_date",
    "date_parsing": "invalid_date",
    "date_type": "invalid_date",
    "date_from_datetime_inexact": "invalid_date",
}


class BodyLimit:
    """Refuse request bodies over the limit with 413, before anything parses them."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _too_large(send, scope)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await _too_large(send, scope)


class _BodyTooLarge(StarletteHTTPException):
    """Raised from receive(); an HTTPException so FastAPI's body reader lets it through."""

    def __init__(self) -> None:
        super().__init__(413, "The request body is larger than 1 MB.")


async def _too_large(send: Send, scope: Scope) -> None:
    if "app" in scope and not scope["path"].startswith(("/api/", "/slack/")):
        # a person at the web form: a page in their language, not JSON
        page = web_pages.render_http_error(Request(scope), 413)
        page.headers["connection"] = "close"
        await page({"type": "http.request", "body": b"", "more_body": False}, _no_receive,
                   send)
        return
    body = b'{"code":"body_too_large","message":"The request body is larger than 1 MB."}'
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


class SecurityHeaders:
    """A strict CSP and friends on every response; no-store unless a route says otherwise."""

    HEADERS: ClassVar[list[tuple[bytes, bytes]]] = [
        (b"content-security-policy",
         b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
         b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
    ]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                for name, value in self.HEADERS:
                    if name not in names:  # /docs and /redoc bring a policy of their own
                        headers.append((name, value))
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, add_headers)


def _error_body(request: Request, code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **extra}


def _invalid_json(request: Request) -> JSONResponse:
    """400 for a body that is no JSON Meld can read (syntax, encoding, nesting too deep)."""
    tr = deps.translator_of(request)
    return JSONResponse(
        _error_body(request, "invalid_json", tr("The request body is not valid JSON.")),
        status_code=400,
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ValidationFailed)
    async def _validation(request: Request, exc: ValidationFailed) -> JSONResponse:
        tr = deps.translator_of(request)
        errors = [
            {"field": e.field, "code": e.code, "warning": e.warning,
             "message": field_error_text(e, tr)}
            for e in exc.errors
        ]
        return JSONResponse(
            _error_body(request, "validation_failed", error_text("validation_failed", tr),
                        errors=errors, only_warnings=exc.only_warnings),
            status_code=422,
        )

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        tr = deps.translator_of(request)
        if isinstance(exc, PermissionDenied) and exc.code == "invalid_token":
            status = 401
        else:
            status = exc.http_status
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(
            _error_body(request, exc.code, error_text(exc.code, tr, **exc.params)),
            status_code=status, headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _shape(request: Request, exc: RequestValidationError) -> JSONResponse:
        if any(err.get("type") == "json_invalid" for err in exc.errors()):
            return _invalid_json(request)  # not parsed at all: no shape to speak of
        tr = deps.translator_of(request)
        errors = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            code = _PYDANTIC_CODES.get(err.get("type", ""), "invalid_value")
            ctx = err.get("ctx") or {}
            params = {"max": ctx["max_length"]} if "max_length" in ctx else {}
            if code == "invalid_value":
                message = tr("This value is not valid here.")
            else:
                message = error_text(code, tr, **params)
            errors.append({"field": ".".join(loc) or "body", "code": code, "warning": False,
                           "message": message})
        return JSONResponse(
            jsonable_encoder(_error_body(request, "validation_failed",
                                         error_text("validation_failed", tr), errors=errors,
                                         only_warnings=False)),
            status_code=422,
        )

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError) -> JSONResponse:
        route = request.scope.get("route")
        # the route template, never the path: paths can hold a reporter's status token
        log.warning("database unavailable on %s %s", request.method,
                    getattr(route, "path", "?"))
        if not request.url.path.startswith("/api/"):
            return web_pages.render_http_error(request, 503)
        tr = deps.translator_of(request)
        return JSONResponse(
            _error_body(request, "database_unavailable", error_text("database_unavailable", tr)),
            status_code=503, headers={"Retry-After": "10"},
        )

    app.add_exception_handler(PoolTimeout, _db_down)  # type: ignore[arg-type]

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Any:
        if exc.status_code == 413:
            return JSONResponse({"code": "body_too_large", "message": str(exc.detail)},
                                status_code=413)
        if exc.status_code == 400 and isinstance(exc.__cause__, (ValueError, RecursionError)) \
                and request.url.path.startswith("/api/"):
            # FastAPI's own body parser failed beyond a syntax error: bytes that are no
            # UTF-8, or nesting deeper than Python's stack (RecursionError)
            return _invalid_json(request)
        if request.url.path.startswith("/api/") or exc.status_code == 405:
            return JSONResponse({"code": f"http_{exc.status_code}", "message": str(exc.detail)},
                                status_code=exc.status_code, headers=exc.headers)
        return web_pages.render_http_error(request, exc.status_code)


def create_app(
    settings: Settings,
    *,
    ctx: services.Context | None = None,
    notifiers: Mapping[str, Notifier] | None = None,
) -> FastAPI:
    """Build the ASGI app; the outbox worker runs inside it unless settings turn it off."""
    context = ctx or build_context(settings)
    all_notifiers: dict[str, Notifier] = {"web": WebStatusNotifier()}
    slack = None
    if settings.slack_enabled:
        from bot.slack.app import build_slack  # the composition root may know the doors

        slack = build_slack(settings, context)
        all_notifiers.update(slack.notifiers)
    teams = None
    if settings.teams_enabled:
        from bot.teams.app import build_teams
        from bot.teams.notifier import FanOutNotifier

        teams = build_teams(settings, context)
        assert teams is not None
        for name, notifier in teams.notifiers.items():
            if name in all_notifiers:  # the group channel on Slack and on Teams
                notifier = FanOutNotifier(name, [all_notifiers[name], notifier])
            all_notifiers[name] = notifier
    if settings.mail_enabled:  # notices by e-mail to reporters who gave an address
        from intake.delivery.mail import build_email_notifier

        email = build_email_notifier(
            settings, status_token=lambda reference: services.status_token_for(context,
                                                                               reference),
            taxonomy=context.taxonomy)
        if email is not None:
            all_notifiers[email.channel] = email
        from intake.delivery.mail_newsletter import build_newsletter_mailer

        newsletter_mail = build_newsletter_mailer(settings)  # the newsletter's distribution list
        if newsletter_mail is not None:
            all_notifiers[newsletter_mail.channel] = newsletter_mail
    all_notifiers.update(notifiers or {})
    worker = OutboxWorker(
        db=context.db, notifiers=all_notifiers,
        max_attempts=settings.outbox_max_attempts,
        backoff_base=settings.outbox_backoff_base_seconds,
        backoff_max=settings.outbox_backoff_max_seconds,
        lease=timedelta(seconds=settings.outbox_lease_seconds),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        context.outbox_signal.subscribe(worker.wake)  # receipts go out at the commit
        if teams is not None:
            teams.start()
        if slack is not None:
            await slack.open_session()
        async_driver.open_for_loop(context.db)  # PostgreSQL: the submit's, on this loop
        task = None
        socket_mode = None
        if settings.run_outbox_worker:
            task = asyncio.create_task(worker.run_forever(stop, settings.outbox_poll_seconds))
        digest_task = None
        if settings.run_digest_scheduler and slack is not None and settings.slack_triage_channel:
            from bot.slack.digest import slack_digest_poster
            from intake.reporting.digest_schedule import digest_scheduler

            digest_task = asyncio.create_task(digest_scheduler(
                context, settings, slack_digest_poster(settings, slack.client), stop))
        teams_digest = None
        if settings.run_digest_scheduler and teams is not None and teams.digest_poster:
            from intake.reporting.digest_schedule import digest_scheduler

            teams_digest = asyncio.create_task(digest_scheduler(
                context, settings, teams.digest_poster, stop,
                channel=teams.digest_poster.channel_key))
        promise_task = None
        if settings.run_promise_scheduler:
            from intake.reporting.promise_schedule import promise_scheduler

            promise_task = asyncio.create_task(promise_scheduler(context, settings, stop))
        cluster_task = None
        if settings.run_cluster_alerts:
            from intake.reporting.cluster_schedule import cluster_scheduler

            cluster_task = asyncio.create_task(cluster_scheduler(context, settings, stop))
        suggest_task = None
        if settings.run_suggest_refresh:
            from intake.reporting.suggest_schedule import suggest_scheduler

            suggest_task = asyncio.create_task(suggest_scheduler(context, settings, stop))
        mailbox_task = None
        if settings.mailbox_import == "graph" and settings.run_mailbox_sync:
            from intake.mailbox.sync import mailbox_scheduler

            mailbox_task = asyncio.create_task(mailbox_scheduler(context, settings, stop))
        if slack is not None and slack.app_token:
            from bot.slack.app import SocketMode

            socket_mode = SocketMode(slack.app, slack.app_token)
            await socket_mode.connect_async()
            log.info("slack: connected over Socket Mode")
        try:
            yield
        finally:
            stop.set()
            context.outbox_signal.unsubscribe(worker.wake)
            if socket_mode is not None:
                await socket_mode.close_async()
            if task is not None:
                await task
            if digest_task is not None:
                await digest_task
            if teams_digest is not None:
                await teams_digest
            if promise_task is not None:
                await promise_task
            if cluster_task is not None:
                await cluster_task
            if suggest_task is not None:
                await suggest_task
            if mailbox_task is not None:
                await mailbox_task
            if teams is not None:
                await teams.close()
            if slack is not None:
                await slack.close_session()
            await async_driver.close_for_loop(context.db)
            if ctx is None:
                context.db.dispose()

    app = FastAPI(
        title="Meld",
        version="0.1.0",
        summary="Samhandlingsavvik og forbedringsforslag: report, triage, feedback.",
        lifespan=lifespan,
        docs_url=None,  # served by web_docs.router from Meld's own static files, no CDN
        redoc_url=None,
    )
    app.state.ctx = context
    app.state.worker = worker
    app.state.slack = slack
    app.state.teams = teams
    app.state.translator = Translator(settings.locale, settings.timezone)
    _install_error_handlers(app)
    ratelimit.install(app, settings, context.db, context.secret_key)
    app.include_router(stats_api.router)  # before api.router: /reports/{reference} would match
    app.include_router(api.router)
    app.include_router(api.health)
    app.include_router(web_mail_links.router)  # /status/{token}/epost-av (List-Unsubscribe)
    for web in (web_form, web_status, web_pages, web_report_link, web_docs, web_board,
                web_board_report, web_board_entra, web_board_measures,
                web_board_meeting, web_board_analysis, web_suggest, web_newsletter):
        app.include_router(web.router)
    if slack is not None and slack.router is not None:
        app.include_router(slack.router)
    if teams is not None:
        app.include_router(teams.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)  # outermost: refusals by BodyLimit get the headers too
    return app


def digest_poster(settings: Settings, context: services.Context, *, teams: bool) -> Any:
    """The `post` callable of the weekly digest for one door (`meld digest` posts through
    this, so the command line needs no door of its own)."""
    if teams:
        from bot.teams.app import build_teams

        door = build_teams(settings, context)
        assert door is not None and door.digest_poster is not None
        return door.digest_poster
    from bot.slack.digest import slack_digest_poster

    return slack_digest_poster(settings)


def door_checks(settings: Settings, tr: Translator) -> list[Check]:
    """What `meld doctor` asks each chat door (the bot token, the channel Meld posts to),
    so the command line needs no door of its own. A door that is off says so in one line."""
    from bot.slack.doctor import slack_checks
    from bot.teams.doctor import teams_checks

    return [*slack_checks(settings, tr), *teams_checks(settings, tr)]


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` worker processes: settings from the environment."""
    from intake.logs import configure_logging

    settings = Settings.from_environment()  # the same .env as `meld serve` read
    configure_logging(settings.log_level)
    app = create_app(settings)
    settle_heap()
    return app


def settle_heap() -> None:
    """In a server process, once the app is built: what start-up made (modules, routes,
    templates, the taxonomy) lives as long as the process, so it goes out of the cyclic
    collector's way and full collections scan only what requests allocate (bench.board:
    less CPU a page and a shorter tail). Never in tests, which build many apps."""
    gc.collect()
    gc.freeze()
