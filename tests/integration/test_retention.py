"""Retention: free text and reporter identity go, coded fields stay, closed periods' reports
do not change (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from intake import services
from intake.cli.main import main
from intake.domain.model import Actor, PermissionDenied, Role
from intake.domain.periods import parse_period
from intake.i18n import Translator
from intake.ops import retention
from intake.reporting.period_report import build_period_report
from intake.reporting.render_tables import render_csv
from intake.settings import Settings
from storage import models as m
from tests.fakes import FakeClock
from tests.integration.helpers import draft

ADMIN = Actor("cli:admin", Role.ADMIN)
GROUP = Actor("slack:UGROUP", Role.TRIAGER)
ALICE = Actor("slack:UALICE", Role.REPORTER)
BOB = Actor("slack:UBOB", Role.REPORTER)
WEB = Actor("web:5f0c1e2d3a4b5c6d7e8f9a0b", Role.REPORTER)  # a web pseudonym
SECRET_TEXT = "Hemmelig fritekst"


def at(clock: FakeClock, *args: int) -> None:
    clock.now = datetime(*args, tzinfo=UTC)


def closed_report(ctx, clock, actor: Actor, *, reported: tuple, closed: tuple,
                  category: str = "discharge_summary", with_dialog: bool = True) -> str:
    at(clock, *reported)
    day = clock.now.date().isoformat()
    ref = services.submit_report(ctx=ctx, actor=actor, draft=draft(
        occurred_on=day, category=category, subcategory=None,
        description=f"{SECRET_TEXT} om epikrise {ref_hint(actor)}",
        place_text="Akuttmottaket, 3. etasje", source_link="https://example.org/x")).reference
    if with_dialog:
        services.request_info(ctx=ctx, actor=GROUP, reference=ref, question="Hvilken avdeling?")
        services.reporter_answer(ctx=ctx, actor=actor, reference=ref,
                                 text=f"{SECRET_TEXT}: medisinsk avdeling")
        services.add_note(ctx=ctx, actor=GROUP, reference=ref, text="Intern merknad")
        services.plus_one(ctx=ctx, actor=BOB if actor != BOB else ALICE, reference=ref)
        services.assess(ctx=ctx, actor=GROUP, reference=ref, assessed_severity="moderate")
    services.move_status(ctx=ctx, actor=GROUP, reference=ref, status="in_progress",
                         message="Vi følger opp.")
    at(clock, *closed)
    services.close(ctx=ctx, actor=GROUP, reference=ref,
                   learning_point=f"Lærdom for {ref}", measure=f"Tiltak for {ref}")
    return ref


def ref_hint(actor: Actor) -> str:
    return actor.identity.split(":")[-1] or "web"


def period_snapshot(ctx, key: str) -> tuple:
    tr = Translator("nb")
    period = parse_period(key, tr)
    report = build_period_report(ctx=ctx, actor=GROUP, period=period, tr=tr)
    return report, render_csv(report, tr)


def everything(ctx) -> dict[str, list]:
    with ctx.db.reading() as s:
        return {
            "reports": list(s.scalars(select(m.Report).order_by(m.Report.id))),
            "messages": list(s.scalars(select(m.Message).order_by(m.Message.id))),
            "plus": list(s.scalars(select(m.PlusOne).order_by(m.PlusOne.id))),
            "audit": list(s.scalars(select(m.AuditEvent).order_by(m.AuditEvent.id))),
            "outbox": list(s.scalars(select(m.OutboxMessage).order_by(m.OutboxMessage.id))),
        }


CODED = ("reference", "kind", "category_id", "subcategory_id", "reporter_party",
         "concerned_party", "direction", "place_id", "occurred_on", "reported_at",
         "reported_severity", "assessed_severity", "agreement_reference",
         "guideline_breached", "status", "assignee", "learning_point", "measure",
         "redirect_target", "redirect_reference", "duplicate_of_id", "channel", "locale",
         "first_feedback_at", "closed_at", "updated_at")


def coded(report: m.Report) -> tuple:
    return tuple(getattr(report, c) for c in CODED)


@pytest.fixture
def scene(ctx, clock) -> dict[str, str]:
    """Reports closed in 2024-T1 (due in 2026), one closed in 2025 (not due), one open."""
    refs = {
        "slack": closed_report(ctx, clock, ALICE, reported=(2024, 2, 1, 9), closed=(2024, 3, 1, 9)),
        "web": closed_report(ctx, clock, WEB, reported=(2024, 2, 5, 9), closed=(2024, 4, 2, 9),
                             category="medication"),
        "bare": closed_report(ctx, clock, BOB, reported=(2024, 3, 5, 9),
                              closed=(2024, 3, 20, 9), with_dialog=False),
        "later": closed_report(ctx, clock, BOB, reported=(2024, 3, 6, 9),
                               closed=(2025, 6, 1, 9)),
    }
    at(clock, 2024, 3, 7, 9)
    refs["open"] = services.submit_report(ctx=ctx, actor=ALICE, draft=draft(
        occurred_on="2024-03-07", description=f"{SECRET_TEXT} åpen")).reference
    return refs


def test_retention_erases_text_and_identity_and_keeps_closed_periods(ctx, clock, scene) -> None:
    before_t1 = period_snapshot(ctx, "2024-T1")
    before_year = period_snapshot(ctx, "2024")
    assert before_t1[0].total == 5 and len(before_t1[0].learning_points) == 3
    before = everything(ctx)

    at(clock, 2026, 4, 3, 12)  # 730 days after 2024-04-02 09:00 UTC has passed
    due = retention.due_reports(ctx=ctx)
    assert set(due.references) == {scene["slack"], scene["web"], scene["bare"]}
    assert due.cutoff == datetime(2024, 4, 3, 12, tzinfo=UTC)
    assert everything(ctx)["reports"][0].description == before["reports"][0].description

    with pytest.raises(PermissionDenied):
        retention.apply(ctx=ctx, actor=GROUP)
    done = retention.apply(ctx=ctx, actor=ADMIN, batch=2)  # two transactions
    assert set(done.references) == set(due.references)

    after = everything(ctx)
    erased_ids = {r.id for r in after["reports"] if r.reference in due.references}
    for old, new in zip(before["reports"], after["reports"], strict=True):
        assert coded(old) == coded(new)  # every coded field, learning point and measure
        if new.id in erased_ids:
            assert (new.description, new.place_text, new.source_link, new.reporter_id,
                    new.status_token_hash, new.idempotency_key, new.request_hash) == (
                None, None, None, None, None, None, None)
        else:
            assert new.description == old.description and new.reporter_id == old.reporter_id
    for msg in after["messages"]:
        if msg.report_id in erased_ids:
            assert msg.body is None
            assert msg.author_id is None or msg.direction != "reporter"
    assert all(p.actor_id.startswith("erased:") for p in after["plus"]
               if p.report_id in erased_ids)
    assert len(after["plus"]) == len(before["plus"])  # the +1 counts stay
    identities = {"slack:UALICE", "slack:UBOB"} | {
        r.reporter_id for r in before["reports"] if r.id in erased_ids}
    for ev in after["audit"]:
        if ev.report_id in erased_ids and ev.actor_role == "reporter":
            assert ev.actor_id is None
    for row in after["outbox"]:
        if row.report_id in erased_ids:
            assert row.payload == {} and row.recipient not in identities
            assert row.delivered_at is not None or row.failed_at is not None
    erased_events = [e for e in after["audit"] if e.action == "erased"]
    assert sorted(e.report_id for e in erased_events) == sorted(erased_ids)
    assert all(e.details == {"reason": "retention", "retention_days": 730}
               for e in erased_events)
    # no free text or reporter identity of an erased report is left anywhere
    dump = json.dumps([[str(getattr(o, c.key)) for c in o.__table__.columns]
                       for rows in after.values() for o in rows
                       if getattr(o, "report_id", getattr(o, "id", None)) in erased_ids])
    assert SECRET_TEXT not in dump and "Akuttmottaket" not in dump
    assert "slack:UALICE" not in dump and "example.org" not in dump
    assert WEB.identity not in dump

    # the committee's reports of closed periods are unchanged, to the byte
    assert period_snapshot(ctx, "2024-T1") == before_t1
    assert period_snapshot(ctx, "2024") == before_year

    # the not-yet-due and the open report keep everything; a second run erases nothing
    assert retention.apply(ctx=ctx, actor=ADMIN).references == ()
    views = {ref: services.get_report(ctx=ctx, actor=GROUP, reference=ref)
             for ref in (scene["later"], scene["open"])}
    assert all(SECRET_TEXT in (v.description or "") for v in views.values())
    erased_view = services.get_report(ctx=ctx, actor=GROUP, reference=scene["slack"])
    assert erased_view.description is None and erased_view.reporter_id is None
    assert erased_view.learning_point == f"Lærdom for {scene['slack']}"


def test_a_reopened_report_is_not_erased(ctx, clock, scene) -> None:
    at(clock, 2026, 4, 3, 12)
    services.reopen(ctx=ctx, actor=GROUP, reference=scene["slack"])
    assert scene["slack"] not in retention.due_reports(ctx=ctx).references
    assert retention.due_reports(ctx=ctx, days=3650).references == ()


def test_meld_retention_dry_run_and_apply(db_url, ctx, clock, capsys) -> None:
    # closed long before the real clock's retention limit
    ref = closed_report(ctx, clock, ALICE, reported=(2022, 1, 10, 9), closed=(2022, 2, 1, 9))
    settings = Settings(database_url=db_url, secret_key="test-secret" * 3, retention_days=730)
    assert main(["retention", "--dry-run"], settings=settings) == 0
    out = capsys.readouterr().out
    assert "som ennå har fritekst eller melderens identitet: 1." in out
    assert ref in out and SECRET_TEXT not in out
    assert services.get_report(ctx=ctx, actor=GROUP, reference=ref).description
    assert main(["retention", "--apply"], settings=settings) == 0
    out = capsys.readouterr().out
    assert out.startswith("Slettet fritekst og melderens identitet i 1 meldinger") and ref in out
    assert services.get_report(ctx=ctx, actor=GROUP, reference=ref).description is None
    with pytest.raises(SystemExit):
        main(["retention"], settings=settings)  # --dry-run or --apply is required
    capsys.readouterr()


def test_the_audit_log_lets_only_the_erasure_of_a_reporter_through(ctx) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    services.submit_report(ctx=ctx, actor=ALICE, draft=draft())
    with ctx.db.transaction() as s:
        s.add(m.AuditEvent(actor_id="slack:UGROUP", actor_role="triager", action="read",
                           report_id=1, details={}))
    refused = (
        "UPDATE audit_events SET actor_id = NULL WHERE actor_role = 'triager'",
        "UPDATE audit_events SET actor_id = 'someone' WHERE actor_role = 'reporter'",
        "UPDATE audit_events SET actor_id = NULL, action = 'x' WHERE actor_role = 'reporter'",
        "UPDATE audit_events SET actor_id = NULL, report_id = NULL "
        "WHERE actor_role = 'reporter'",
        "DELETE FROM audit_events WHERE actor_role = 'reporter'",
    )
    for statement in refused:
        with pytest.raises(DBAPIError, match="append-only"), ctx.db.transaction() as s:
            s.execute(text(statement))
    with ctx.db.transaction() as s:
        s.execute(text("UPDATE audit_events SET actor_id = NULL WHERE actor_role = 'reporter'"))
    with ctx.db.reading() as s:
        rows = s.execute(text("SELECT actor_role, actor_id, action FROM audit_events "
                              "ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("reporter", None, "submitted"),
                                        ("triager", "slack:UGROUP", "read")]
