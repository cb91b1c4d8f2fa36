"""/triage rapport: a private, expiring link to the tertial report's HTML."""

from __future__ import annotations

import re

import httpx
import pytest

from bot.chat import commands
from intake import services
from intake.app import create_app
from intake.domain.model import Actor, NotFound, PermissionDenied, Role
from intake.i18n import Translator
from tests.integration.helpers import draft

GROUP = Actor("slack:UGROUP", Role.TRIAGER)
REPORTER = Actor("slack:U1", Role.REPORTER)


def test_the_group_gets_a_link_that_opens_the_report(ctx, clock) -> None:
    services.submit_report(ctx=ctx, actor=REPORTER, draft=draft(occurred_on="2026-02-10"))
    result = commands.run_command(ctx=ctx, actor=GROUP, text="rapport 2026-t1",
                                  tr=Translator("nb"))
    assert result.ok, result.text
    assert "Rapporten for 2026-T1" in result.text and "24 timer" in result.text
    url = re.search(r"https?://\S+", result.text).group(0)
    token = url.rsplit("/rapport/", 1)[1]
    assert services.open_report_link(ctx=ctx, token=token) == ("2026-T1", True)

    app = create_app(ctx.settings, ctx=ctx)
    transport = httpx.ASGITransport(app=app)

    async def get(path: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://meld") as client:
            return await client.get(path)

    import asyncio

    page = asyncio.run(get(f"/rapport/{token}"))
    assert page.status_code == 200
    assert "<svg" in page.text and "Epikrise" in page.text
    assert page.headers["cache-control"] == "no-store"
    tampered = token.replace("2026-T1", "2026-T2")
    assert asyncio.run(get(f"/rapport/{tampered}")).status_code == 404

    clock.advance(hours=25)
    with pytest.raises(NotFound):
        services.open_report_link(ctx=ctx, token=token)
    assert asyncio.run(get(f"/rapport/{token}")).status_code == 404


def test_only_the_group_gets_links_and_bad_periods_are_explained(ctx) -> None:
    with pytest.raises(PermissionDenied):
        services.report_link(ctx=ctx, actor=REPORTER, period="2026-T1")
    result = commands.run_command(ctx=ctx, actor=GROUP, text="rapport 2026-T4",
                                  tr=Translator("nb"))
    assert not result.ok and "2026-T1 (tertial)" in result.text
    result = commands.run_command(ctx=ctx, actor=GROUP, text="rapport", tr=Translator("nb"))
    assert not result.ok and "rapport 2026-T1|2026" in result.text
