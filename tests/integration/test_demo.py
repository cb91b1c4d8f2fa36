"""`meld seed-demo`: synthetic reports with triage history, through the real services."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from intake import services
from intake.cli.main import main
from intake.domain.model import Actor, Role
from intake.domain.privacy import find_identifiers
from intake.domain.taxonomy import load_taxonomy
from intake.ops.demo import DemoRefused, plan_demo, seed_demo
from intake.settings import Settings
from storage import models as m
from storage.db import Database, open_database
from tests.integration.helpers import draft

COUNT = 60
# sha256 of what a fixed seed generates, taken before the templates moved to
# intake/ops/demo_data: a change here means `meld seed-demo --seed N` gives other data
PLAN_FINGERPRINT = "d14a96383a82799cce7cb0930245c81ca03d34bab5c2cba63f135dd821885509"
SEEDED_FINGERPRINT = "caef3609c3b2dedb555be534b853bac0c7972725200ce228c8aa09efc9b5c08a"
DRAFT_FIELDS = ("kind", "category", "subcategory", "description", "occurred_on", "severity",
                "no_patient_identifiers", "reporter_party", "concerned_party", "place",
                "place_text", "locale")


def _texts(ctx: services.Context) -> list[str]:
    r = m.Report
    with ctx.db.reading() as session:
        rows = session.execute(select(
            r.description, r.place_text, r.learning_point, r.measure, r.agreement_reference,
            r.redirect_reference)).all()
        bodies = session.scalars(select(m.Message.body)).all()
    return [t for row in rows for t in row if t] + [b for b in bodies if b]


def _fingerprint(ctx: services.Context) -> list[tuple[object, ...]]:
    r = m.Report
    with ctx.db.reading() as session:
        reports = session.execute(select(
            r.reference, r.kind, r.category_id, r.subcategory_id, r.description, r.direction,
            r.place_id, r.occurred_on, r.reported_at, r.reported_severity, r.assessed_severity,
            r.status, r.reporter_id, r.learning_point, r.redirect_reference,
            r.first_feedback_at, r.closed_at).order_by(r.reference)).all()
        messages = session.execute(select(m.Message.body, m.Message.created_at)
                                   .order_by(m.Message.created_at, m.Message.body)).all()
        plus = session.scalar(select(func.count()).select_from(m.PlusOne))
    return [tuple(row) for row in reports] + [tuple(row) for row in messages] + [(plus,)]


def _canonical(value: Any) -> Any:
    """Plain text for a generated value, independent of the backend and of field order."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, services.ReportDraft):
        return [[name, _canonical(getattr(value, name))] for name in DRAFT_FIELDS]
    if isinstance(value, dict):
        return [[key, _canonical(value[key])] for key in sorted(value)]
    if isinstance(value, tuple | list):
        return [_canonical(v) for v in value]
    return value


def _digest(value: Any) -> str:
    return hashlib.sha256(repr(_canonical(value)).encode()).hexdigest()


@pytest.fixture
def fresh(ctx: services.Context, tmp_path: Path, sqlite_template: Path,
          ) -> Iterator[Callable[[], services.Context]]:
    """Gives a context on an empty database again (the audit table refuses DELETE):
    a new SQLite file, or the PostgreSQL database truncated."""
    opened: list[Database] = []

    def again() -> services.Context:
        if ctx.db.dialect == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in m.Base.metadata.sorted_tables)
            with ctx.db.transaction() as session:
                session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
                for name in session.execute(text(
                        "SELECT sequence_name FROM information_schema.sequences "
                        "WHERE sequence_name LIKE 'meld_reference_%'")).scalars().all():
                    session.execute(text(f'DROP SEQUENCE "{name}"'))
            ctx.db.known_sequences.clear()
            return ctx
        target = tmp_path / f"again{len(opened)}.db"
        shutil.copy(sqlite_template, target)
        opened.append(open_database(f"sqlite:///{target}"))
        return dataclasses.replace(ctx, db=opened[-1])

    yield again
    for db in opened:
        db.dispose()


def test_fills_two_years_with_triage_history(ctx: services.Context) -> None:
    summary = seed_demo(ctx=ctx, count=COUNT, seed=42)
    assert summary.reports == COUNT
    today = ctx.today()
    r = m.Report
    with ctx.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(r)) == COUNT
        first, last = session.execute(select(func.min(r.occurred_on),
                                             func.max(r.occurred_on))).one()
        statuses = dict(session.execute(select(r.status, func.count()).group_by(r.status)).all())
        kinds = set(session.scalars(select(r.kind).distinct()))
        reporters = set(session.scalars(select(r.reporter_id).distinct()))
        pending = session.scalar(select(func.count()).select_from(m.OutboxMessage)
                                 .where(m.OutboxMessage.delivered_at.is_(None)))
        outbox = session.scalar(select(func.count()).select_from(m.OutboxMessage))
        submitted = session.scalar(select(func.count()).select_from(m.AuditEvent)
                                   .where(m.AuditEvent.action == "submitted"))
        closed_without_learning = session.scalar(
            select(func.count()).select_from(r)
            .where(r.status == "closed", r.learning_point.is_(None)))
        feedback = session.scalar(select(func.count()).select_from(r)
                                  .where(r.first_feedback_at.is_not(None)))
        late = session.scalar(select(func.count()).select_from(r)
                              .where(r.reported_at > ctx.clock()))
        assessed_differs = session.scalar(
            select(func.count()).select_from(r)
            .where(r.assessed_severity.is_not(None),
                   r.assessed_severity != r.reported_severity))
    # spread over the last two years, up to today
    assert today - timedelta(days=730) <= first <= today - timedelta(days=365)
    assert today - timedelta(days=60) <= last <= today
    assert late == 0
    # triage history: most are assessed and answered, some still waiting
    assert statuses.get("closed", 0) >= COUNT // 4
    assert len(statuses) >= 4, statuses
    assert kinds >= {"deviation", "suggestion"}
    assert feedback >= COUNT // 2
    assert assessed_differs >= 1
    assert closed_without_learning == 0
    # through the services: one audit event per submit; every notice marked as sent
    assert submitted == COUNT
    assert outbox >= 2 * COUNT and pending == 0 and summary.delivered == outbox
    assert all(x.split(":")[0] in {"slack", "teams", "web"} and "demo" in x.lower()
               for x in reporters)
    # references as the service gives them, per year
    with ctx.db.reading() as session:
        refs = session.scalars(select(r.reference)).all()
    assert len(set(refs)) == COUNT and all(services.REFERENCE_RE.match(x) for x in refs)


def test_no_identifiers_in_any_text(ctx: services.Context) -> None:
    seed_demo(ctx=ctx, count=COUNT, seed=3)
    texts = _texts(ctx)
    assert len(texts) > COUNT
    assert [t for t in texts if find_identifiers(t)] == []


def test_generator_texts_are_clean_at_scale(ctx: services.Context) -> None:
    """Every text a large plan would write passes the identifier guard (no database)."""
    plan = plan_demo(count=1500, seed=11, now=ctx.clock(), taxonomy=load_taxonomy())
    texts: list[str] = []
    for step in plan.steps:
        for value in step.args.values():
            if isinstance(value, str) and " " in value:
                texts.append(value)
            elif isinstance(value, services.ReportDraft):
                texts += [t for t in (value.description, value.place_text) if t]
    assert len(texts) > 1500
    assert [t for t in texts if find_identifiers(t)] == []


def test_refuses_a_database_with_reports(ctx: services.Context) -> None:
    services.submit_report(ctx=ctx, actor=Actor("web:someone", Role.REPORTER), draft=draft())
    with pytest.raises(DemoRefused) as refused:
        seed_demo(ctx=ctx, count=10)
    assert refused.value.count == 1
    summary = seed_demo(ctx=ctx, count=10, force=True)
    assert summary.reports == 10
    with ctx.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(m.Report)) == 11
        # the real report's card to the group is still waiting to be delivered (a web
        # reporter's receipt is the answer itself: it has no row)
        assert session.scalar(select(func.count()).select_from(m.OutboxMessage)
                              .where(m.OutboxMessage.delivered_at.is_(None))) == 1


def test_same_seed_same_data(ctx: services.Context,
                             fresh: Callable[[], services.Context]) -> None:
    seed_demo(ctx=ctx, count=40, seed=7)
    first = _fingerprint(ctx)
    assert len(first) > 40
    second = fresh()
    seed_demo(ctx=second, count=40, seed=7)
    assert _fingerprint(second) == first
    third = fresh()
    seed_demo(ctx=third, count=40, seed=8)
    assert _fingerprint(third) != first


def test_command_line(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(database_url=db_url, secret_key="test-secret" * 3)
    assert main(["seed-demo", "--reports", "40"], settings=settings) == 0
    out = capsys.readouterr().out
    assert "Demodata: 40 meldinger" in out and "Lukket" in out and "--tertial" in out
    assert main(["seed-demo", "--reports", "40"], settings=settings) == 1
    err = capsys.readouterr().err
    assert "allerede 40 meldinger" in err and "--force" in err
    assert main(["seed-demo", "--reports", "5", "--force", "--seed", "1"],
                settings=settings) == 0
    assert "Demodata: 5 meldinger" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        main(["seed-demo", "--reports", "0"], settings=settings)
    assert refused.value.code == 2
    assert "--reports: 0 er ikke mellom 1 og 100000." in capsys.readouterr().err


def test_works_with_an_edited_taxonomy(ctx: services.Context) -> None:
    """The group edits the lists: demo reports only use what is still offered."""
    from intake.domain.taxonomy import Category, Item, Taxonomy

    taxonomy = Taxonomy(
        categories=(Category("discharge_summary", "Epikrise", "Discharge summary",
                             subcategories=(Item("late", "Forsinket", "Late", active=False),)),
                    Category("other", "Annet", "Other"),
                    Category("routines", "Rutiner", "Routines", active=False)),
        places=())
    edited = dataclasses.replace(ctx, taxonomy=taxonomy)
    assert seed_demo(ctx=edited, count=30, seed=5).reports == 30
    with ctx.db.reading() as session:
        used = set(session.execute(select(m.Report.category_id, m.Report.subcategory_id)))
        places = set(session.scalars(select(m.Report.place_id)))
    assert {c for c, _ in used} <= {"discharge_summary", "other"}
    assert {s for _, s in used} == {None} and places == {None}


def test_fixed_seed_gives_a_fixed_plan() -> None:
    """Every step, text and moment a seed plans is pinned (no database)."""
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    plan = plan_demo(count=400, seed=2024, now=now, taxonomy=load_taxonomy())
    assert len(plan.steps) > 400
    steps = [(s.at, s.report, s.op, s.args) for s in plan.steps]
    assert _digest([steps, plan.count, plan.first_day, plan.last_day]) == PLAN_FINGERPRINT


def test_fixed_seed_gives_fixed_data(ctx: services.Context) -> None:
    """What `meld seed-demo` writes for a seed is pinned, on every backend."""
    seed_demo(ctx=ctx, count=40, seed=7)
    fingerprint = _fingerprint(ctx)
    assert len(fingerprint) > 40
    assert _digest(fingerprint) == SEEDED_FINGERPRINT
