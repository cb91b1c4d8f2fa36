"""Incident analyses (hendelsesanalyse) after Helsedirektoratet's guide IS-0583: the group
opens one on one or more reports and works through the guide's steps as one record
(mandate and team, the timeline, what happened against what should have happened, causes,
measures, the report, the follow-up), with a status of its own.

This module opens analyses, changes their text sections and status, and reads them;
`analysis_parts` adds and removes the timeline's events, the causes and the measures.
Only the group changes; readers read; reporters never see an analysis. Every read and
every change writes an audit event (codes and ids only) in the same transaction, and a
refused attempt is audited too. Every free-text field goes through the identifier guard:
an identity number is refused, a phone number, e-mail address or name-like text is a
warning the group confirms (`confirm_warnings`), as on the reporter's form.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.domain.analysis import (
    ANALYSIS_EDITABLE,
    FOLLOW_UP_EDITABLE,
    REQUIRED_FOR_REPORT,
    AnalysisStatus,
    analysis_move_allowed,
)
from intake.domain.model import (
    Actor,
    Conflict,
    FieldError,
    NotFound,
    ValidationFailed,
)
from intake.services.common import (
    MAX_SHORT_TEXT,
    check_free_text,
    choice,
    clean_text,
    db_now,
    deny,
    load_report,
    record_audit,
    summary_view,
    transaction,
)
from intake.services.context import Context
from intake.services.measures import MeasureView, measure_views
from intake.services.views import ReportView
from storage import models as m
from storage import models_analysis as ma

MAX_SECTION_CHARS = 20000
MAX_REPORTS = 50
# the text sections update_analysis changes
SECTIONS = ("title", "mandate", "team", "what_happened", "what_should_have_happened",
            "follow_up")


@dataclass(frozen=True, slots=True)
class AnalysisEventView:
    id: int
    happened_on: date
    happened_time: time | None
    description: str


@dataclass(frozen=True, slots=True)
class AnalysisCauseView:
    id: int
    category: str
    description: str


@dataclass(frozen=True, slots=True)
class AnalysisSummary:
    """A row of the list: no text but the title."""

    id: int
    reference: str
    title: str
    status: str
    references: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AnalysisView:
    id: int
    reference: str
    title: str
    status: str
    mandate: str | None
    team: str | None
    what_happened: str | None
    what_should_have_happened: str | None
    follow_up: str | None
    reports: tuple[ReportView, ...]  # the reports' coded fields only (no free text)
    events: tuple[AnalysisEventView, ...]  # in time order
    causes: tuple[AnalysisCauseView, ...]
    measures: tuple[MeasureView, ...]
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime
    completed_at: datetime | None
    closed_at: datetime | None

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(r.reference for r in self.reports)


# ---------------------------------------------------------------- shared with analysis_parts


def require_analysis_access(ctx: Context, actor: Actor, *, change: bool, action: str) -> None:
    """The group changes, readers read; anyone else is refused, and the refusal audited."""
    allowed = actor.is_group if change else actor.reads_group
    if not allowed:
        raise deny(ctx=ctx, actor=actor, action=f"analysis:{action}")


def guarded_text(field_name: str, value: str | None, max_chars: int,
                 errors: list[FieldError], *, required: bool = False) -> str | None:
    """A free text cleaned and checked by the identifier guard (problems to `errors`)."""
    clean = clean_text(value)
    if clean is None:
        if required:
            errors.append(FieldError(field_name, "required"))
        return None
    errors.extend(check_free_text(field_name, clean, max_chars=max_chars, warn=True))
    return clean


def raise_if(errors: list[FieldError], confirm_warnings: bool) -> None:
    """Refuse on any error, and on a warning the group has not confirmed."""
    if confirm_warnings:
        errors = [e for e in errors if not e.warning]
    if errors:
        raise ValidationFailed(errors)


def load_analysis(session: Session, analysis_id: int, *, for_update: bool = False
                  ) -> ma.Analysis:
    row = None
    if isinstance(analysis_id, int) and 0 < analysis_id < 2**31:  # an id the column holds
        row = session.get(ma.Analysis, analysis_id, with_for_update=for_update)
    if row is None:
        raise NotFound("analysis_not_found")
    return row


def audit_analysis(session: Session, actor: Actor, action: str, row: ma.Analysis,
                   report: m.Report | None = None, **details: Any) -> None:
    record_audit(session, actor, action, report, analysis_id=row.id,
                 analysis=row.reference, **details)


def touch(session: Session, actor: Actor, row: ma.Analysis, *, follow_up: bool = False) -> None:
    """Before a change of content: refuse it where the status does not allow it, and move
    a freshly opened analysis to in progress (the group has started the work)."""
    editable = FOLLOW_UP_EDITABLE if follow_up else ANALYSIS_EDITABLE
    if AnalysisStatus(row.status) not in editable:
        raise Conflict("analysis_locked", status=row.status)
    now = db_now(session)
    if row.status == AnalysisStatus.OPENED and not follow_up:
        _move(session, actor, row, AnalysisStatus.IN_PROGRESS, now)
    row.updated_at = now


def reports_of(session: Session, analysis_id: int) -> list[m.Report]:
    return list(session.scalars(
        select(m.Report).join(ma.AnalysisReport, ma.AnalysisReport.report_id == m.Report.id)
        .where(ma.AnalysisReport.analysis_id == analysis_id).order_by(m.Report.id)))


# ---------------------------------------------------------------- open, change, move on


def open_analysis(*, ctx: Context, actor: Actor, references: list[str], title: str,
                  mandate: str | None = None, team: str | None = None,
                  confirm_warnings: bool = False) -> AnalysisView:
    """A new analysis (opened) on one or more reports, with its title, and perhaps its
    mandate and team already."""
    require_analysis_access(ctx, actor, change=True, action="open")
    errors: list[FieldError] = []
    clean_title = guarded_text("title", title, MAX_SHORT_TEXT, errors, required=True)
    texts = {"mandate": guarded_text("mandate", mandate, MAX_SECTION_CHARS, errors),
             "team": guarded_text("team", team, MAX_SECTION_CHARS, errors)}
    wanted = list(dict.fromkeys(r.strip().upper() for r in references if r and r.strip()))
    if not wanted:
        errors.append(FieldError("references", "required"))
    elif len(wanted) > MAX_REPORTS:
        errors.append(FieldError("references", "too_many", params={"max": MAX_REPORTS}))
    raise_if(errors, confirm_warnings)
    assert clean_title is not None
    for attempt in range(3):  # two opened at once may draw the same number: draw again
        try:
            with transaction(ctx) as session:
                reports = [load_report(session, ref) for ref in wanted]
                now = db_now(session)
                year = ctx.local_date(now).year
                number = (session.scalar(select(func.max(ma.Analysis.number))
                                         .where(ma.Analysis.year == year)) or 0) + 1
                row = ma.Analysis(reference=f"HA-{year}-{number:03d}", year=year,
                                 number=number, title=clean_title,
                                 status=AnalysisStatus.OPENED.value, created_by=actor.identity,
                                 created_at=now, updated_at=now, status_changed_at=now,
                                 **texts)
                session.add(row)
                session.flush()
                for report in reports:
                    session.add(ma.AnalysisReport(analysis_id=row.id, report_id=report.id))
                    audit_analysis(session, actor, "analysis_opened", row, report)
                session.flush()
                return _view(ctx, session, row)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def update_analysis(*, ctx: Context, actor: Actor, analysis_id: int,
                    confirm_warnings: bool = False, **sections: str | None) -> AnalysisView:
    """Change text sections: title, mandate, team, what_happened, what_should_have_happened,
    follow_up. A section not given is kept; an empty one is cleared (the title cannot be).
    Steps 1-3 change while the analysis is opened or in progress; the follow-up until it
    is closed."""
    require_analysis_access(ctx, actor, change=True, action="update")
    unknown = [name for name in sections if name not in SECTIONS]
    if unknown:
        raise ValidationFailed([FieldError(name, "unknown_field") for name in unknown])
    if not sections:
        raise ValidationFailed([FieldError("sections", "nothing_to_change")])
    errors: list[FieldError] = []
    values = {name: guarded_text(name, value, MAX_SHORT_TEXT if name == "title"
                                 else MAX_SECTION_CHARS, errors, required=name == "title")
              for name, value in sections.items()}
    raise_if(errors, confirm_warnings)
    with transaction(ctx) as session:
        row = load_analysis(session, analysis_id, for_update=True)
        changed = [name for name, value in values.items() if getattr(row, name) != value]
        if changed:
            touch(session, actor, row, follow_up=changed == ["follow_up"])
            for name in changed:
                setattr(row, name, values[name])
            audit_analysis(session, actor, "analysis_updated", row, fields=changed)
        return _view(ctx, session, row)


def _move(session: Session, actor: Actor, row: ma.Analysis, target: AnalysisStatus,
          now: datetime) -> None:
    previous = row.status
    row.status = target.value
    row.status_changed_at = row.updated_at = now
    if target is AnalysisStatus.COMPLETED:
        row.completed_at = now
    row.closed_at = now if target is AnalysisStatus.CLOSED else None
    audit_analysis(session, actor, "analysis_status", row, previous=previous,
                   status=target.value)


def set_analysis_status(*, ctx: Context, actor: Actor, analysis_id: int,
                        status: str) -> AnalysisView:
    """Move the analysis on by the table in `intake.domain.analysis`. The report can be
    written (completed) once the mandate, what happened, what should have happened and a
    cause are there; followed up once the follow-up is written. Back to in progress from a
    later status reopens it."""
    require_analysis_access(ctx, actor, change=True, action="status")
    errors: list[FieldError] = []
    target = choice(AnalysisStatus, status, "status", errors)
    if errors:
        raise ValidationFailed(errors)
    with transaction(ctx) as session:
        row = load_analysis(session, analysis_id, for_update=True)
        if not analysis_move_allowed(row.status, target.value):
            raise Conflict("analysis_invalid_transition", current=row.status,
                           target=target.value)
        if target is AnalysisStatus.COMPLETED:
            missing = [FieldError(name, "required") for name in REQUIRED_FOR_REPORT
                       if not getattr(row, name)]
            if session.scalar(select(func.count()).select_from(ma.AnalysisCause).where(
                    ma.AnalysisCause.analysis_id == row.id)) == 0:
                missing.append(FieldError("causes", "required"))
            if missing:
                raise ValidationFailed(missing)
        if target is AnalysisStatus.FOLLOWED_UP and not row.follow_up:
            raise ValidationFailed([FieldError("follow_up", "required")])
        _move(session, actor, row, target, db_now(session))
        return _view(ctx, session, row)


# ---------------------------------------------------------------- read


def get_analysis(*, ctx: Context, actor: Actor, analysis_id: int,
                 export: str | None = None) -> AnalysisView:
    """One analysis with everything in it; the read is audited ("read", or "export" with
    the format when `export` names one: html, pdf)."""
    require_analysis_access(ctx, actor, change=False, action="read")
    with transaction(ctx) as session:
        row = load_analysis(session, analysis_id)
        if export:
            audit_analysis(session, actor, "export", row, format=export[:10])
        else:
            audit_analysis(session, actor, "read", row, view="analysis")
        return _view(ctx, session, row)


def list_analyses(*, ctx: Context, actor: Actor, reference: str | None = None,
                  status: str | None = None) -> tuple[AnalysisSummary, ...]:
    """The analyses, newest first (of one report, or of one status); audited as a list."""
    require_analysis_access(ctx, actor, change=False, action="list")
    errors: list[FieldError] = []
    wanted = choice(AnalysisStatus, status, "status", errors, False)
    if errors:
        raise ValidationFailed(errors)
    stmt = select(ma.Analysis).order_by(ma.Analysis.id.desc()).limit(500)
    if wanted is not None:
        stmt = stmt.where(ma.Analysis.status == wanted.value)
    with transaction(ctx) as session:
        report = load_report(session, reference) if reference else None
        if report is not None:
            stmt = stmt.where(ma.Analysis.id.in_(select(ma.AnalysisReport.analysis_id).where(
                ma.AnalysisReport.report_id == report.id)))
        rows = list(session.scalars(stmt))
        refs: dict[int, list[str]] = {r.id: [] for r in rows}
        if rows:
            for analysis_id, ref in session.execute(
                    select(ma.AnalysisReport.analysis_id, m.Report.reference)
                    .join(m.Report, m.Report.id == ma.AnalysisReport.report_id)
                    .where(ma.AnalysisReport.analysis_id.in_(list(refs)))
                    .order_by(m.Report.id)):
                refs[analysis_id].append(ref)
        record_audit(session, actor, "list", report, count=len(rows), view="analyses")
        return tuple(AnalysisSummary(r.id, r.reference, r.title, r.status,
                                     tuple(refs[r.id]), r.created_at, r.updated_at)
                     for r in rows)


def analyses_of_report(*, ctx: Context, actor: Actor,
                       reference: str) -> tuple[AnalysisSummary, ...]:
    """The analyses a report belongs to, for the report's page on the board: part of that
    page, whose read is audited as the report's (like its measures), so not again here."""
    require_analysis_access(ctx, actor, change=False, action="list")
    with ctx.db.reading() as session:
        report = load_report(session, reference)
        rows = session.scalars(
            select(ma.Analysis).join(ma.AnalysisReport,
                                    ma.AnalysisReport.analysis_id == ma.Analysis.id)
            .where(ma.AnalysisReport.report_id == report.id).order_by(ma.Analysis.id)).all()
        return tuple(AnalysisSummary(r.id, r.reference, r.title, r.status, (report.reference,),
                                     r.created_at, r.updated_at) for r in rows)


def _view(ctx: Context, session: Session, row: ma.Analysis) -> AnalysisView:
    session.flush()
    with session.no_autoflush:
        reports = reports_of(session, row.id)
        events = sorted(session.scalars(select(ma.AnalysisEvent).where(
            ma.AnalysisEvent.analysis_id == row.id)),
            key=lambda e: (e.happened_on, e.happened_time or time.min, e.id))
        causes = session.scalars(select(ma.AnalysisCause).where(
            ma.AnalysisCause.analysis_id == row.id).order_by(ma.AnalysisCause.id)).all()
        measures = session.scalars(
            select(m.Measure)
            .join(ma.AnalysisMeasure, ma.AnalysisMeasure.measure_id == m.Measure.id)
            .where(ma.AnalysisMeasure.analysis_id == row.id)
            .order_by(m.Measure.due_on, m.Measure.id)).all()
        measure_rows = measure_views(session, list(measures), ctx.today())
    return AnalysisView(
        id=row.id, reference=row.reference, title=row.title, status=row.status,
        mandate=row.mandate, team=row.team, what_happened=row.what_happened,
        what_should_have_happened=row.what_should_have_happened, follow_up=row.follow_up,
        reports=tuple(summary_view(r) for r in reports),
        events=tuple(AnalysisEventView(e.id, e.happened_on, e.happened_time, e.description)
                     for e in events),
        causes=tuple(AnalysisCauseView(c.id, c.category, c.description) for c in causes),
        measures=measure_rows, created_by=row.created_by, created_at=row.created_at,
        updated_at=row.updated_at, status_changed_at=row.status_changed_at,
        completed_at=row.completed_at, closed_at=row.closed_at)
