"""A cluster alert reaches the group: in Slack's triage channel and in Teams' (the outbox
worker delivering the notice), from `meld clusters check`, and from `meld serve`'s
scheduler. The words are bokmål, with the taxonomy's names and the references."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.slack.group import SlackGroupNotifier
from bot.slack.notifier import slack_client
from intake import services
from intake.cli.main import main
from intake.delivery.outbox import OutboxWorker
from intake.domain.model import Actor, Role
from intake.reporting.cluster_schedule import cluster_scheduler
from tests.clusters.helpers import alert_notices, alerts, noon, receive, with_settings
from tests.doors.conftest import yesterday
from tests.integration.helpers import draft
from tests.slack_fake import FakeSlack
from tests.teams.conftest import TRIAGE, TeamsHarness

TODAY = date(2026, 3, 2)
PLACE_TEXT = ("Mulig opphopning: 3 meldinger om Mangler (Epikrise) på St. Olavs – "
              "Medisinsk klinikk de siste 30 dagene (1. februar 2026–2. mars 2026). "
              "Samme periode året før: 0.\nMeldinger: {refs}\n"
              "Se på dem samlet: har de en felles årsak?")
DIRECTION_TEXT = ("Mulig opphopning: 3 meldinger om Epikrise i retningen Fastlege → Sykehus "
                  "de siste 30 dagene (1. februar 2026–2. mars 2026). "
                  "Samme periode året før: 0.\nMeldinger: {refs}\n"
                  "Se på dem samlet: har de en felles årsak?")


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def test_the_alert_is_posted_to_the_slack_triage_channel(ctx, clock, fake_slack) -> None:
    refs = ", ".join(receive(ctx, clock, TODAY) for _ in range(3))
    assert len(services.check_clusters(ctx)) == 2
    client = slack_client("xoxb-test", base_url=fake_slack.url)
    worker = OutboxWorker(db=ctx.db, clock=clock, notifiers={
        "group": SlackGroupNotifier(client, channel_id="CTRIAGE", taxonomy=ctx.taxonomy)})
    asyncio.run(worker.drain())
    asyncio.run(worker.drain())  # nothing twice
    posts = [(c.params["channel"], c.params["text"])
             for c in fake_slack.calls_to("chat.postMessage")
             if c.params["text"].startswith("Mulig")]
    # Slack's mrkdwn escapes only &, < and >: the arrow and the dash stay
    assert sorted(posts) == sorted([("CTRIAGE", DIRECTION_TEXT.format(refs=refs)),
                                    ("CTRIAGE", PLACE_TEXT.format(refs=refs))])
    assert all(r.delivered_at is not None for r in alert_notices(ctx))


def test_the_alert_is_posted_to_the_teams_channel(teams: TeamsHarness) -> None:
    # the door's own scheduler is off (teams_settings): this test checks
    refs = [services.submit_report(ctx=teams.ctx, actor=Actor(f"web:r{i}", Role.REPORTER),
                                   draft=draft(occurred_on=yesterday())).reference
            for i in range(3)]
    raised = services.check_clusters(teams.ctx)  # the real clock: today's window
    assert {a.dim for a in raised} == {"place", "direction"}
    teams.drain()
    texts = [s.body["text"] for s in teams.ms.sent
             if s.conversation == TRIAGE and str(s.body.get("text", "")).startswith("Mulig")]
    assert len(texts) == 2
    assert all(s.startswith("Mulig opphopning: 3 meldinger om ") for s in texts)
    assert all(f"Meldinger: {', '.join(refs)}\n" in s for s in texts)
    assert any("Medisinsk klinikk" in s for s in texts)
    assert any("i retningen Fastlege → Sykehus" in s for s in texts)


def test_meld_clusters_check_prints_what_fired(ctx, clock, capsys) -> None:
    # the command runs on the real clock: reports of the last days
    today = datetime.now(ZoneInfo(ctx.settings.timezone)).date()
    refs = [receive(ctx, clock, today - timedelta(days=n)) for n in (3, 2, 1)]
    assert main(["clusters", "check", "--dry-run"], settings=ctx.settings) == 0
    out = capsys.readouterr().out
    assert "Mulig opphopning: 3 meldinger om Mangler (Epikrise) på St. Olavs" in out
    assert f"Meldinger: {', '.join(refs)}" in out
    assert "Klynger klare nå: 2 (ingen ble varslet)." in out
    assert alerts(ctx) == []
    assert main(["clusters", "check"], settings=ctx.settings) == 0
    out = capsys.readouterr().out
    assert "i retningen Fastlege → Sykehus" in out and "Varslet om 2 klynger." in out
    assert main(["clusters", "check"], settings=ctx.settings) == 0
    assert "Varslet om 0 klynger." in capsys.readouterr().out
    assert len(alerts(ctx)) == len(alert_notices(ctx)) == 2


def test_meld_serve_checks_on_a_schedule(ctx, clock) -> None:
    for _ in range(3):
        receive(ctx, clock, TODAY)
    clock.now = noon(TODAY)
    fast = with_settings(ctx, cluster_check_seconds=0.02)

    async def serve() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(cluster_scheduler(fast, fast.settings, stop))
        for _ in range(500):
            await asyncio.sleep(0.01)
            if len(alerts(ctx)) == 2:
                break
        await asyncio.sleep(0.1)  # a few more checks: nothing twice
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(serve())
    assert len(alerts(ctx)) == len(alert_notices(ctx)) == 2
