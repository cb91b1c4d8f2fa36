"""JSON API under /api/v1: translates HTTP to one service call and renders the answer."""

from __future__ import annotations

import dataclasses
import typing
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field, create_model
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool as call

from intake import services
from intake.domain.model import Actor, RedirectTarget, Role, Severity
from intake.http.deps import Ctx, Group, Tr
from intake.http.ratelimit import api_submit_limit
from intake.http.report_in import TEXT, ReceiptOut, ReportIn, receipt_out
from intake.i18n import Translator
from intake.services.search import MAX_QUERY, check_query
from intake.texts import similar_reasons_text


def _model_of(view: type, name: str, *, exclude: frozenset[str] = frozenset(),
              **extra: Any) -> type[BaseModel]:
    """A response model with the fields of a service view (one shape per concept: the API
    shows the service's view, it does not declare it again); `extra` adds or replaces."""
    hints = typing.get_type_hints(view)
    fields: dict[str, Any] = {f.name: (hints[f.name], ...) for f in dataclasses.fields(view)
                              if f.name not in exclude and f.name not in extra}
    return create_model(name, __config__=ConfigDict(from_attributes=True), **fields, **extra)


MessageOut = _model_of(services.MessageView, "MessageOut")
ReportOut = _model_of(
    services.ReportView, "ReportOut", exclude=frozenset({"locale"}),
    messages=(list[MessageOut], ...),  # type: ignore[valid-type]
    unread_from_reporter=(bool, Field(
        False, description="The reporter has written something the group has not read yet "
        "(cleared when a group member opens the report or writes to the reporter)")),
    reporter_unread_since=(datetime | None, Field(
        None, description="When the first unread message from the reporter came in")),
)


class ReportPage(BaseModel):
    items: list[ReportOut]  # type: ignore[valid-type]
    next_cursor: int | None


class SimilarOut(BaseModel):
    """Another report like the one asked about: its coded fields, never its text."""

    reference: str
    status: str
    kind: str
    category: str
    subcategory: str | None
    place: str | None
    active: bool = Field(description="The group still works on it (an open status)")
    score: float = Field(ge=0, le=1, description="How alike, 0 to 1")
    reasons: list[str] = Field(
        description="Why: same_subcategory, same_category, same_place, same_direction, "
        "similar_text", examples=[["same_subcategory", "same_place", "similar_text"]])
    reasons_text: str = Field(
        description="The reasons in words, in the language of Accept-Language",
        examples=["samme underkategori og sted; tekst ligner"])


class SimilarPage(BaseModel):
    items: list[SimilarOut] = Field(description="The most alike first, open ones first")


class AssessIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: str | None = Field(None, max_length=64)
    subcategory: str | None = Field(None, max_length=64)
    assessed_severity: Severity | None = None
    agreement_reference: str | None = Field(None, max_length=TEXT)
    guideline_breached: bool | None = None


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee: str | None = Field(None, max_length=TEXT)


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str = Field(max_length=20, examples=["in_progress"])
    message: str | None = Field(None, max_length=TEXT)


class TextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=TEXT)


class AnswerIn(TextIn):
    confirm_warnings: bool = False


class QuestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(max_length=TEXT)


class RedirectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: RedirectTarget
    external_reference: str | None = Field(None, max_length=TEXT)
    message: str | None = Field(
        None, max_length=TEXT,
        description="Words to the reporter with the forwarding notice (which also says what "
                    "to do at the target and where, from redirects.toml)")


class DuplicateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    duplicate_of: str = Field(max_length=40, examples=["MELD-2026-0042"])


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    learning_point: str = Field(max_length=TEXT)
    measure: str = Field(max_length=TEXT)


class PlusOneOut(BaseModel):
    reference: str
    plus_ones: int


class FieldErrorOut(BaseModel):
    field: str
    code: str
    warning: bool
    message: str


class ErrorOut(BaseModel):
    """Every refusal: a code to act on and a sentence for people (Norwegian by default)."""

    code: str = Field(examples=["validation_failed"])
    message: str
    errors: list[FieldErrorOut] | None = None
    only_warnings: bool | None = None
    retry_after: int | None = Field(None, description="With 429: seconds to wait")


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorOut} for code in codes}


# documented on every endpoint, so clients (and schemathesis) know each refusal's shape
ERROR_RESPONSES = _errors(400, 401, 403, 404, 405, 409, 413, 422, 503)


def report_out(view: services.ReportView) -> BaseModel:
    return ReportOut.model_validate(view)


def status_url(ctx: services.Context, token: str) -> str:
    return f"{ctx.settings.base_url.rstrip('/')}/status/{token}"


router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


@router.post("/reports", status_code=201, response_model=ReceiptOut, tags=["reporters"],
             dependencies=[Depends(api_submit_limit)], responses=_errors(429))
async def submit(
    body: ReportIn,
    response: Response,
    ctx: Ctx,
    tr: Tr,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> ReceiptOut:
    """File a report. Repeat with the same Idempotency-Key to get the same receipt."""
    draft = services.ReportDraft(**body.model_dump(mode="json"))
    draft.occurred_on = body.occurred_on
    draft.locale = body.locale or tr.locale
    actor = Actor(identity=services.ANONYMOUS_WEB, role=Role.REPORTER)
    key = f"api:{idempotency_key}" if idempotency_key else None  # apart from other doors' keys
    receipt = await services.submit_report_async(
        ctx=ctx, actor=actor, draft=draft, idempotency_key=key)
    url = status_url(ctx, receipt.status_token)
    response.headers["Location"] = url
    if not receipt.created:
        response.headers["Idempotency-Replayed"] = "true"
    return receipt_out(ctx, receipt, url, Translator(draft.locale, ctx.settings.timezone))


@router.get("/reports", response_model=ReportPage, tags=["working group"])
async def list_reports(
    ctx: Ctx,
    actor: Group,
    status: Annotated[str | None, Query(max_length=20)] = None,
    kind: Annotated[str | None, Query(max_length=20)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    occurred_from: date | None = None,
    occurred_to: date | None = None,
    unread: Annotated[bool, Query(description="only reports with an unread message from "
                                              "the reporter")] = False,
    after: Annotated[
        int | None, Query(ge=0, le=services.MAX_LIST_CURSOR,
                          description="next_cursor of the previous page (opaque)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    q: Annotated[str | None, Query(
        max_length=MAX_QUERY, examples=["epikrise"],
        description="words to look for in the reference, title and text (other forms of a "
                    "word are found too); an empty q is no search")] = None,
) -> ReportPage:
    """The queue, newest first; follow next_cursor for the next page.

    With q alone: the search, best match first (at most 100, next_cursor null). With q
    and other filters: the reports that match them all, newest first, page by page."""
    filters = services.ReportFilter(
        status=status,
        kind=kind,
        category=category,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
        unread=unread,
    )
    query = (q or "").strip() or None
    if query is not None and filters == services.ReportFilter() and after is None:
        found = await call(services.search_reports, ctx=ctx, actor=actor, query=query,
                           limit=limit)
        return ReportPage(items=[report_out(v) for v in found], next_cursor=None)
    if query is not None:  # refused as the search refuses it (field q), not as a filter
        filters = dataclasses.replace(filters, text=check_query(query))
    page = await call(
        services.list_reports, ctx=ctx, actor=actor, filters=filters, after=after, limit=limit
    )
    return ReportPage(items=[report_out(v) for v in page.items], next_cursor=page.next_cursor)


@router.get("/reports/{reference}", response_model=ReportOut, tags=["working group"])
async def get_report(reference: str, ctx: Ctx, actor: Group) -> Any:
    """One report with its dialog and internal notes (the read is audited)."""
    return report_out(await call(services.get_report, ctx=ctx, actor=actor, reference=reference))


@router.get("/reports/{reference}/similar", response_model=SimilarPage, tags=["working group"])
async def similar_reports(
    reference: str,
    ctx: Ctx,
    actor: Group,
    tr: Tr,
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> SimilarPage:
    """Reports like this one (possible duplicates): coded fields, a score and the reasons,
    never the texts (the read is audited)."""
    found = await call(services.similar_reports, ctx=ctx, actor=actor, reference=reference,
                       limit=limit)
    return SimilarPage(items=[
        SimilarOut(reference=s.view.reference, status=s.view.status, kind=s.view.kind,
                   category=s.view.category, subcategory=s.view.subcategory,
                   place=s.view.place, active=s.active, score=s.score,
                   reasons=list(s.reasons), reasons_text=similar_reasons_text(s.reasons, tr))
        for s in found])


@router.post("/reports/{reference}/assess", response_model=ReportOut, tags=["working group"])
async def assess(reference: str, body: AssessIn, ctx: Ctx, actor: Group) -> Any:
    return report_out(
        await call(
            services.assess,
            ctx=ctx,
            actor=actor,
            reference=reference,
            **body.model_dump(mode="json"),
        )
    )


@router.post("/reports/{reference}/assign", response_model=ReportOut, tags=["working group"])
async def assign(reference: str, body: AssignIn, ctx: Ctx, actor: Group) -> Any:
    return report_out(
        await call(
            services.assign, ctx=ctx, actor=actor, reference=reference, assignee=body.assignee
        )
    )


@router.post("/reports/{reference}/status", response_model=ReportOut, tags=["working group"])
async def move_status(reference: str, body: StatusIn, ctx: Ctx, actor: Group) -> Any:
    """Move to triage, in_progress or rejected (other moves have their own endpoint)."""
    return report_out(
        await call(
            services.move_status,
            ctx=ctx,
            actor=actor,
            reference=reference,
            status=body.status,
            message=body.message,
        )
    )


@router.post("/reports/{reference}/notes", response_model=ReportOut, tags=["working group"])
async def add_note(reference: str, body: TextIn, ctx: Ctx, actor: Group) -> Any:
    return report_out(
        await call(services.add_note, ctx=ctx, actor=actor, reference=reference, text=body.text)
    )


@router.post("/reports/{reference}/replies", response_model=ReportOut, tags=["working group"])
async def reply(reference: str, body: TextIn, ctx: Ctx, actor: Group) -> Any:
    return report_out(
        await call(services.reply, ctx=ctx, actor=actor, reference=reference, text=body.text)
    )


@router.post("/reports/{reference}/request-info", response_model=ReportOut, tags=["working group"])
async def request_info(reference: str, body: QuestionIn, ctx: Ctx, actor: Group) -> Any:
    return report_out(
        await call(
            services.request_info, ctx=ctx, actor=actor, reference=reference, question=body.question
        )
    )


@router.post("/reports/{reference}/redirect", response_model=ReportOut, tags=["working group"])
async def redirect(reference: str, body: RedirectIn, ctx: Ctx, actor: Group) -> Any:
    return report_out(
        await call(
            services.redirect,
            ctx=ctx,
            actor=actor,
            reference=reference,
            target=body.target.value,
            external_reference=body.external_reference,
            message=body.message,
        )
    )


@router.post("/reports/{reference}/duplicate", response_model=ReportOut, tags=["working group"])
async def duplicate(reference: str, body: DuplicateIn, ctx: Ctx, actor: Group) -> Any:
    return report_out(
        await call(
            services.mark_duplicate,
            ctx=ctx,
            actor=actor,
            reference=reference,
            duplicate_of=body.duplicate_of,
        )
    )


@router.post("/reports/{reference}/close", response_model=ReportOut, tags=["working group"])
async def close(reference: str, body: CloseIn, ctx: Ctx, actor: Group) -> Any:
    return report_out(
        await call(
            services.close,
            ctx=ctx,
            actor=actor,
            reference=reference,
            learning_point=body.learning_point,
            measure=body.measure,
        )
    )


@router.post("/reports/{reference}/reopen", response_model=ReportOut, tags=["working group"])
async def reopen(reference: str, ctx: Ctx, actor: Group) -> Any:
    return report_out(await call(services.reopen, ctx=ctx, actor=actor, reference=reference))


@router.post("/reports/{reference}/plus-one", response_model=PlusOneOut, tags=["working group"])
async def plus_one(reference: str, ctx: Ctx, actor: Group) -> PlusOneOut:
    count = await call(services.plus_one, ctx=ctx, actor=actor, reference=reference)
    return PlusOneOut(reference=reference.upper(), plus_ones=count)


@router.get("/status/{token}", response_model=ReportOut, tags=["reporters"])
async def reporter_status(token: str, ctx: Ctx) -> Any:
    """The reporter's own view through the private status link."""
    _actor, view = await call(services.find_by_status_token, ctx=ctx, token=token)
    return report_out(view)


@router.post("/status/{token}/answers", response_model=ReportOut, tags=["reporters"])
async def reporter_answer(token: str, body: AnswerIn, ctx: Ctx) -> Any:
    """The reporter answers the group."""
    actor, view = await call(services.find_by_status_token, ctx=ctx, token=token)
    return report_out(
        await call(
            services.reporter_answer,
            ctx=ctx,
            actor=actor,
            reference=view.reference,
            text=body.text,
            confirm_warnings=body.confirm_warnings,
        )
    )


health = APIRouter(responses=_errors(503))


@health.get("/healthz", tags=["operations"])
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@health.get("/readyz", tags=["operations"])
async def readyz(ctx: Ctx, response: Response) -> dict[str, str]:
    """The database answers."""

    def ping() -> None:
        with ctx.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    try:
        await call(ping)
    except Exception as exc:  # any failure means not ready; say which kind, not the details
        response.status_code = 503
        return {"status": "unavailable", "database": type(exc).__name__}
    return {"status": "ok", "database": "ok"}
