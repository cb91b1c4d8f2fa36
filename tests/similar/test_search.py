"""Full-text search on both databases: Norwegian inflections, compounds, letters typed
without their marks, misspellings (PostgreSQL), and the index kept current by the
database itself."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from intake import services
from intake.domain.model import Actor, PermissionDenied, Role, ValidationFailed
from storage import models as m
from tests.integration.helpers import draft

GROUP = Actor("slack:UGROUP", Role.TRIAGER)


def submit(ctx: services.Context, text: str, **fields: str) -> str:
    actor = Actor("web:someone", Role.REPORTER)
    return services.submit_report(ctx=ctx, actor=actor, draft=draft(
        description=text, confirm_warnings=True, **fields)).reference


def found(ctx: services.Context, query: str) -> list[str]:
    return [v.reference for v in services.search_reports(ctx=ctx, actor=GROUP, query=query)]


def test_inflections_and_compounds(ctx: services.Context) -> None:
    plural = submit(ctx, "Epikrisene fra kirurgisk kom aldri.")
    compound = submit(ctx, "Epikrisesendingen stoppet opp etter oppgraderingen.")
    other = submit(ctx, "Henvisningen ble returnert.")
    assert set(found(ctx, "epikrise")) == {plural, compound}
    assert found(ctx, "henvisninger") == [other]
    assert found(ctx, "epikrise kirurgisk") == [plural]  # every word must be there


def test_letters_typed_without_their_marks(ctx: services.Context) -> None:
    reference = submit(ctx, "Søknaden om sykehjemsplass ble ikke behandlet før utskrivning.")
    assert found(ctx, "søknad") == [reference]
    assert found(ctx, "soknad") == [reference]
    assert found(ctx, "sykehjemsplass for") == [reference]


def test_misspellings_on_postgresql(ctx: services.Context) -> None:
    reference = submit(ctx, "Henvisningen til ortopedisk ble returnert uten begrunnelse.")
    if ctx.db.dialect != "postgresql":
        pytest.skip("pg_trgm: PostgreSQL only")
    assert found(ctx, "henvsining") == [reference]
    assert found(ctx, "ortopdisk begrunelse") == [reference]


def test_reference_and_order(ctx: services.Context) -> None:
    weak = submit(ctx, "Telefonen ble ikke besvart; vi fikk heller ingen epikrise.")
    strong = submit(ctx, "Epikrise mangler. Epikrise kom ikke. Ingen epikrise i det hele tatt.")
    assert found(ctx, "epikrise") == [strong, weak]
    assert found(ctx, weak.lower()) == [weak]


def test_the_index_follows_every_change(ctx: services.Context) -> None:
    """Kept current by the database: an UPDATE of the text or the title."""
    reference = submit(ctx, "Prøvesvar ble ikke fulgt opp.")
    with ctx.db.transaction() as session:
        session.execute(update(m.Report).where(m.Report.reference == reference)
                        .values(description="Kontrolltime ble aldri satt opp.",
                                public_title="Manglende innkalling"))
    assert found(ctx, "prøvesvar") == []
    assert found(ctx, "kontrolltime") == [reference]
    assert found(ctx, "innkalling") == [reference]


def test_search_is_for_the_group_checked_and_audited(ctx: services.Context) -> None:
    submit(ctx, "Epikrise manglet.")
    with pytest.raises(PermissionDenied):
        services.search_reports(ctx=ctx, actor=Actor("web:x", Role.REPORTER), query="epikrise")
    for bad in ("", "   ", "x" * 201, "epi\x00krise"):
        with pytest.raises(ValidationFailed):
            services.search_reports(ctx=ctx, actor=GROUP, query=bad)
    assert found(ctx, "!!!") == []
    with ctx.db.reading() as session:
        actions = session.scalars(select(m.AuditEvent.action).where(
            m.AuditEvent.actor_id == GROUP.identity)).all()
    assert actions.count("search") == 1  # refusals raise before anything is read
