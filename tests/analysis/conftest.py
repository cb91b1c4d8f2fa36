"""Actors and reports for the analysis tests (the `ctx` fixture of tests/conftest.py runs
each test on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from intake import services
from intake.domain.model import Actor, Role
from storage import models as m
from tests.integration.helpers import draft

REPORTER = Actor("slack:U123", Role.REPORTER)
GROUP = Actor("slack:UGROUP", Role.TRIAGER)
READER = Actor("board:Komité Leser", Role.READER)


@pytest.fixture
def report(ctx: services.Context) -> Callable[..., str]:
    """report(**draft overrides): a new report's reference."""
    def make(**overrides: Any) -> str:
        return services.submit_report(ctx=ctx, actor=REPORTER,
                                      draft=draft(**overrides)).reference
    return make


def audit_rows(ctx: services.Context, since: int = 0) -> list[m.AuditEvent]:
    with ctx.db.reading() as session:
        return list(session.scalars(select(m.AuditEvent).where(m.AuditEvent.id > since)
                                    .order_by(m.AuditEvent.id)))


def last_audit_id(ctx: services.Context) -> int:
    rows = audit_rows(ctx)
    return rows[-1].id if rows else 0
