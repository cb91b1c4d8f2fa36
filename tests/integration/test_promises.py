"""The feedback promise: a reminder to the group the day before a report's feedback-by date,
an honest notice to the reporter when it passed, each exactly once per report (also with
two schedulers racing on one database), and the overdue mark in /triage liste and the
digest. The clock starts Monday 2026-03-02 13:00 Oslo; feedback_days is 14, so a report
sent then is promised feedback by Monday 2026-03-16."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from bot.chat.commands import run_command
from bot.slack.group import SlackGroupNotifier
from bot.slack.notifier import SlackNotifier, slack_client
from intake import services
from intake.cli.main import main
from intake.delivery.outbox import OutboxWorker, WebStatusNotifier
from intake.domain.model import Actor, Role
from intake.domain.taxonomy import load_taxonomy
from intake.i18n import Translator
from intake.reporting.digest import build_digest
from intake.reporting.digest_text import render_text
from intake.reporting.promise_schedule import promise_scheduler
from intake.services import Context
from storage import models as m
from storage.db import open_database
from tests.fakes import FakeClock
from tests.integration.helpers import draft
from tests.slack_fake import FakeSlack

ALICE = Actor("slack:UALICE", Role.REPORTER)
BOB = Actor("slack:UBOB", Role.REPORTER)
GROUP = Actor("slack:UGROUP", Role.TRIAGER)
TR = Translator("nb", "Europe/Oslo")


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=UTC)


def outbox(ctx: Context, event: str) -> list[m.OutboxMessage]:
    with ctx.db.reading() as s:
        return list(s.scalars(select(m.OutboxMessage).where(m.OutboxMessage.event == event)
                              .order_by(m.OutboxMessage.id)).all())


def notices(ctx: Context) -> set[tuple[int, str]]:
    with ctx.db.reading() as s:
        return {(r, n) for r, n in s.execute(
            select(m.ReportNotice.report_id, m.ReportNotice.notice)).all()}


@pytest.fixture
def fake_slack():
    with FakeSlack() as fake:
        yield fake


def test_reminder_goes_to_the_group_once_the_day_before(ctx, clock) -> None:
    assigned = services.submit_report(ctx=ctx, actor=ALICE, draft=draft()).reference
    nobodys = services.submit_report(ctx=ctx, actor=BOB, draft=draft()).reference
    answered = services.submit_report(ctx=ctx, actor=BOB, draft=draft()).reference
    services.assign(ctx=ctx, actor=GROUP, reference=assigned, assignee="slack:UKARI")
    services.reply(ctx=ctx, actor=GROUP, reference=answered, text="Vi ser på det.")

    clock.now = at(14)  # two days before: nothing yet
    assert services.send_due_promise_notices(ctx) == services.PromiseRun()
    clock.now = at(15)  # the day before
    run = services.send_due_promise_notices(ctx)
    assert (run.reminders, run.overdue) == (2, 0)
    assert set(run.reminded) == {assigned, nobodys}  # not the answered one
    rows = outbox(ctx, "feedback_reminder")
    assert {r.channel for r in rows} == {services.GROUP_CHANNEL}
    payloads = {r.payload["reference"]: r.payload for r in rows}
    assert payloads[assigned] == {"reference": assigned, "feedback_by": "2026-03-16",
                                  "days_left": 1, "assignee": "slack:UKARI"}
    assert payloads[nobodys]["assignee"] is None

    # a second run, the same day and the next: no second reminder
    assert services.send_due_promise_notices(ctx).reminders == 0
    clock.now = at(16, 20)
    assert services.send_due_promise_notices(ctx) == services.PromiseRun()
    assert len(outbox(ctx, "feedback_reminder")) == 2


def test_overdue_notice_once_to_the_reporter_with_a_new_date(ctx, clock) -> None:
    report = services.submit_report(ctx=ctx, actor=ALICE, draft=draft())
    answered = services.submit_report(ctx=ctx, actor=BOB, draft=draft()).reference
    services.reply(ctx=ctx, actor=GROUP, reference=answered, text="Vi ser på det.")
    clock.now = at(16, 22)  # 23:00 Oslo on the date itself: not passed yet
    run = services.send_due_promise_notices(ctx)
    assert (run.reminders, run.overdue) == (1, 0)  # late in its window, but in it
    clock.now = at(16, 23)  # 00:00 Oslo on the 17th: passed
    run = services.send_due_promise_notices(ctx)
    assert (run.reminders, run.overdue, run.overdue_refs) == (0, 1, (report.reference,))
    (row,) = outbox(ctx, "feedback_overdue")
    assert (row.channel, row.recipient) == ("slack", ALICE.identity)
    assert row.payload == {"reference": report.reference, "new_date": "2026-03-23"}
    with ctx.db.reading() as s:
        audit = s.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "feedback_overdue")).one()
        notice = s.get(m.ReportNotice, (audit.report_id, "overdue"))
    assert audit.details == {"feedback_by": "2026-03-16", "new_date": "2026-03-23"}
    assert notice is not None and notice.details["new_date"] == "2026-03-23"

    clock.now = at(20)
    assert services.send_due_promise_notices(ctx) == services.PromiseRun()
    assert len(outbox(ctx, "feedback_overdue")) == 1


def test_after_downtime_the_overdue_notice_and_no_late_reminder(ctx, clock) -> None:
    ref = services.submit_report(ctx=ctx, actor=ALICE, draft=draft()).reference
    clock.now = at(30)  # down since before the reminder window: far past the date
    run = services.send_due_promise_notices(ctx)
    assert (run.reminders, run.overdue) == (0, 1)
    assert outbox(ctx, "feedback_reminder") == []
    # the new date is never one already gone by
    assert outbox(ctx, "feedback_overdue")[0].payload == {"reference": ref,
                                                          "new_date": "2026-04-06"}


def test_closed_or_answered_reports_get_nothing(ctx, clock) -> None:
    rejected = services.submit_report(ctx=ctx, actor=ALICE, draft=draft()).reference
    services.move_status(ctx=ctx, actor=GROUP, reference=rejected, status="rejected",
                         message="Utenfor vårt område.")
    services.submit_report(ctx=ctx, actor=ALICE, draft=draft())
    clock.now = at(15)
    dry = services.send_due_promise_notices(ctx, dry_run=True)
    assert (dry.reminders, dry.dry_run) == (1, True)
    assert notices(ctx) == set()  # a dry run claims nothing
    assert services.send_due_promise_notices(ctx).reminders == 1


def test_the_slack_doors_render_the_mention_and_the_honest_notice(ctx, clock,
                                                                  fake_slack) -> None:
    ref = services.submit_report(ctx=ctx, actor=ALICE, draft=draft()).reference
    services.assign(ctx=ctx, actor=GROUP, reference=ref, assignee="slack:UKARI")
    clock.now = at(15)
    services.send_due_promise_notices(ctx)
    clock.now = at(17)
    services.send_due_promise_notices(ctx)
    client = slack_client("xoxb-test", base_url=fake_slack.url)
    worker = OutboxWorker(db=ctx.db, clock=clock, notifiers={
        "slack": SlackNotifier(client),
        "group": SlackGroupNotifier(client, channel_id="CTRIAGE", taxonomy=ctx.taxonomy)})
    asyncio.run(worker.drain())
    asyncio.run(worker.drain())  # nothing is sent twice
    posts = [(c.params["channel"], c.params["text"])
             for c in fake_slack.calls_to("chat.postMessage")]
    reminders = [(ch, text) for ch, text in posts if text.startswith("Frist")]
    assert reminders == [("CTRIAGE", f"Frist for tilbakemelding på {ref} er "
                          f"{TR.date(date(2026, 3, 16))} (i morgen). <@UKARI>, denne er din.")]
    honest = [(ch, text) for ch, text in posts if "rukket" in text]
    assert [text for _, text in honest] == [
        f"Vi har ikke rukket å se på meldingen din {ref} ennå. Vi beklager. "
        f"Ny frist for tilbakemelding er {TR.date(date(2026, 3, 23))}."]
    assert honest[0][0] != "CTRIAGE"  # a DM to the reporter


def test_the_web_reporter_reads_it_on_the_status_page(ctx, clock) -> None:
    web = Actor("web:", Role.REPORTER)
    receipt = services.submit_report(ctx=ctx, actor=web, draft=draft())
    clock.now = at(18)
    assert services.send_due_promise_notices(ctx).overdue == 1
    worker = OutboxWorker(db=ctx.db, clock=clock, notifiers={"web": WebStatusNotifier()})
    asyncio.run(worker.drain())
    shown = services.delivered_notices(ctx=ctx, reference=receipt.reference)
    assert [(event, payload["new_date"]) for _, event, payload, _ in shown] == [
        ("feedback_overdue", "2026-03-23")]


def _second_context(ctx: Context, clock: FakeClock) -> Context:
    return Context(db=open_database(ctx.settings.database_url), settings=ctx.settings,
                   taxonomy=load_taxonomy(), secret_key=ctx.secret_key, clock=clock)


def test_two_schedulers_racing_send_each_notice_once(ctx, clock) -> None:
    refs = [services.submit_report(ctx=ctx, actor=ALICE, draft=draft()).reference
            for _ in range(6)]
    clock.now = at(3)  # promised by the 17th: reminded on the day itself
    soon = [services.submit_report(ctx=ctx, actor=BOB, draft=draft()).reference
            for _ in range(3)]
    other = _second_context(ctx, clock)
    try:
        clock.now = at(17)
        barrier = threading.Barrier(4)
        runs: list[services.PromiseRun] = []

        def race(c: Context) -> None:
            barrier.wait()
            runs.append(services.send_due_promise_notices(c))

        threads = [threading.Thread(target=race, args=(c,))
                   for c in (ctx, other, ctx, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(r.overdue for r in runs) == 6
        assert sum(r.reminders for r in runs) == 3
        overdue = [r.payload["reference"] for r in outbox(ctx, "feedback_overdue")]
        assert sorted(overdue) == sorted(refs)
        reminders = [r.payload["reference"] for r in outbox(ctx, "feedback_reminder")]
        assert sorted(reminders) == sorted(soon)
        with ctx.db.reading() as s:
            assert s.scalar(select(func.count()).select_from(m.AuditEvent).where(
                m.AuditEvent.action == "feedback_overdue")) == 6
    finally:
        other.db.dispose()


def test_the_scheduler_loop_sends_and_stops(ctx, clock) -> None:
    services.submit_report(ctx=ctx, actor=ALICE, draft=draft())
    clock.now = at(15)
    other = _second_context(ctx, clock)

    async def both() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(promise_scheduler(c, ctx.settings, stop))
                 for c in (ctx, other)]
        for _ in range(200):
            await asyncio.sleep(0.01)
            if outbox(ctx, "feedback_reminder"):
                break
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)

    try:
        asyncio.run(both())
    finally:
        other.db.dispose()
    assert len(outbox(ctx, "feedback_reminder")) == 1


def test_triage_liste_marks_overdue_reports(ctx, clock) -> None:
    late = services.submit_report(ctx=ctx, actor=ALICE, draft=draft()).reference
    clock.advance(days=5)
    fresh = services.submit_report(ctx=ctx, actor=ALICE, draft=draft()).reference
    answered = services.submit_report(ctx=ctx, actor=BOB, draft=draft()).reference
    services.reply(ctx=ctx, actor=GROUP, reference=answered, text="Vi ser på det.")
    clock.now = at(18)
    result = run_command(ctx=ctx, actor=GROUP, text="liste", tr=TR)
    lines = {line.split(" · ")[0]: line for line in result.text.splitlines()}
    assert lines[late].endswith("⏰ forfalt: ingen tilbakemelding innen fristen")
    assert "forfalt" not in lines[fresh]
    assert "forfalt" not in lines[answered]


def test_the_digest_lists_overdue_reports_as_of_the_end_of_the_week(ctx, clock) -> None:
    # week 12 (16-22 March) ends Monday 23 March 00:00 Oslo; feedback_by < 23 March means
    # reported on or before 8 March
    overdue = services.submit_report(ctx=ctx, actor=ALICE, draft=draft()).reference  # by 16th
    clock.now = at(8, 20)
    fed_later = services.submit_report(ctx=ctx, actor=ALICE, draft=draft()).reference  # 22nd
    clock.now = at(9)
    not_yet = services.submit_report(ctx=ctx, actor=ALICE, draft=draft()).reference  # 23rd
    clock.now = at(25)  # feedback after the week's end: it was overdue then
    services.reply(ctx=ctx, actor=GROUP, reference=fed_later, text="Vi ser på det.")
    digest = build_digest(ctx=ctx, week="2026-W12", now=clock.now)
    assert digest.overdue_total == 2
    assert [(o.reference, o.feedback_by, o.days) for o in digest.overdue] == [
        (overdue, date(2026, 3, 16), 7), (fed_later, date(2026, 3, 22), 1)]
    text = render_text(digest, TR)
    assert "Fristen for tilbakemelding er passert uten tilbakemelding: 2" in text
    assert overdue in text and not_yet not in text.split("passert uten")[1].split("\n\n")[0]
    # a week earlier nothing had passed yet
    assert build_digest(ctx=ctx, week="2026-W11", now=clock.now).overdue_total == 0
    # this week, as it stands: fed_later has had its feedback
    clock.advance(minutes=1)
    now_digest = build_digest(ctx=ctx, week="2026-W13", now=clock.now)
    assert {o.reference for o in now_digest.overdue} == {overdue, not_yet}


def test_meld_promises_prints_what_it_sent(ctx, clock, capsys) -> None:
    clock.now = datetime.now(UTC).replace(microsecond=0)
    clock.advance(days=-20)  # the command runs on the real clock: 20 days later
    ref = services.submit_report(ctx=ctx, actor=ALICE, draft=draft(
        occurred_on=(clock.now.date().replace(day=1)).isoformat())).reference
    assert main(["promises", "--dry-run"], settings=ctx.settings) == 0
    out = capsys.readouterr().out
    assert f"{ref}: beskjed til melderen om passert frist" in out
    assert "Klare nå: 0 påminnelser og 1 beskjeder om passert frist" in out
    assert main(["promises"], settings=ctx.settings) == 0
    assert "Sendte 0 påminnelser til gruppen og 1 beskjeder om passert frist til meldere." \
        in capsys.readouterr().out
    assert main(["promises"], settings=ctx.settings) == 0
    assert "Sendte 0 påminnelser til gruppen og 0 beskjeder" in capsys.readouterr().out
    assert len(outbox(ctx, "feedback_overdue")) == 1
