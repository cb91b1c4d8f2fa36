"""The weekly digest in Slack: validated Block Kit, posted once to the triage channel."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.models.blocks import Block, HeaderBlock, SectionBlock
from sqlalchemy import select

from bot.slack.digest import (
    FIELD_MAX,
    MAX_BLOCKS,
    SECTION_MAX,
    SlackDigestPoster,
    digest_blocks,
    digest_text,
    slack_digest_poster,
)
from bot.slack.notifier import slack_client
from intake import services
from intake.cli.main import main
from intake.delivery.outbox import DeliveryError
from intake.domain.model import Actor, Role
from intake.i18n import Translator
from intake.reporting import digest
from intake.reporting.digest import (
    Count,
    Digest,
    IsoWeek,
    LearningItem,
    NeedsInfoItem,
    SuggestionItem,
    UnreadItem,
    WaitingItem,
    build_digest,
)
from intake.reporting.digest_schedule import previous_run, run_digest, run_state
from storage import models as m
from tests.bot.conftest import TRIAGE_CHANNEL, slack_settings, start_slack_door, stop_slack_door
from tests.fakes import FakeClock, strings_in
from tests.integration.helpers import draft
from tests.slack_fake import FakeSlack, fake_slack_fixture

fake_slack = pytest.fixture(fake_slack_fixture)

NB = Translator("nb")
REPORTER = Actor("slack:U0REPORTER1", Role.REPORTER)
GROUP = Actor("slack:U0GROUP01", Role.TRIAGER)
SECRET_TEXT = "Hemmelig detalj XYZZY om epikrisen"
MONDAY_0800 = datetime(2026, 3, 9, 7, 0, tzinfo=UTC)
CHANNEL = f"slack:{TRIAGE_CHANNEL}"


def posted(slack: FakeSlack) -> list[dict]:
    return [{"channel": c.params["channel"], "text": c.params["text"],
             "blocks": c.json_param("blocks")}
            for c in slack.calls_to("chat.postMessage")
            if c.status == 200 and c.response.get("ok")]


def assert_blocks_validate(blocks: list[dict]) -> None:
    """Parse what Slack received back into slack_sdk models and re-run their validators."""
    assert 0 < len(blocks) <= MAX_BLOCKS
    for raw in blocks:
        block = Block.parse(raw)
        assert block is not None and block.to_dict() == raw
        if raw["type"] == "section" and "text" in raw:
            assert len(raw["text"]["text"]) <= SECTION_MAX
        for f in raw.get("fields", []):
            assert len(f["text"]) <= FIELD_MAX


def all_text(blocks: list[dict]) -> str:
    return "\n".join(strings_in(blocks))

def poster(fake: FakeSlack) -> SlackDigestPoster:
    return SlackDigestPoster(slack_client("xoxb-test", base_url=fake.url), TRIAGE_CHANNEL, NB)


def seed_week(ctx: services.Context, clock: FakeClock) -> dict[str, str]:
    """A few reports in W10 2026 and one left waiting since February."""
    refs: dict[str, str] = {}

    def submit(name: str, when: datetime, **overrides) -> None:
        clock.now = when
        refs[name] = services.submit_report(
            ctx=ctx, actor=REPORTER,
            draft=draft(description=SECRET_TEXT, occurred_on=when.date(), **overrides),
        ).reference

    submit("waiting", datetime(2026, 2, 10, 9, 0, tzinfo=UTC))
    submit("closed", datetime(2026, 3, 3, 9, 0, tzinfo=UTC), category="medication",
           subcategory=None)
    submit("idea", datetime(2026, 3, 4, 9, 0, tzinfo=UTC), kind="suggestion",
           category="routines", subcategory=None, severity="none")
    services.plus_one(ctx=ctx, actor=Actor("slack:U0PLUS1", Role.REPORTER),
                      reference=refs["idea"])
    clock.now = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    services.move_status(ctx=ctx, actor=GROUP, reference=refs["closed"], status="in_progress")
    services.close(ctx=ctx, actor=GROUP, reference=refs["closed"],
                   learning_point="Legemiddellisten skal følge med <!channel> & <@U0BAD>.",
                   measure="Sjekkliste innført.")
    clock.now = MONDAY_0800
    return refs


def test_the_digest_is_posted_to_the_triage_channel_once(ctx: services.Context,
                                                         clock: FakeClock,
                                                         fake_slack: FakeSlack) -> None:
    refs = seed_week(ctx, clock)
    post = poster(fake_slack)
    assert asyncio.run(run_digest(ctx=ctx, channel=CHANNEL, period="2026-W10", post=post))
    assert not asyncio.run(run_digest(ctx=ctx, channel=CHANNEL, period="2026-W10", post=post))
    [message] = posted(fake_slack)
    assert message["channel"] == TRIAGE_CHANNEL
    assert message["text"] == ("Ukeoversikt for Forbedringsgruppen, uke 10 2026: "
                               "Nye meldinger denne uka: 2")
    assert_blocks_validate(message["blocks"])
    assert message["blocks"][0] == {"type": "header", "block_id": "digest_title",
                                    "text": {"type": "plain_text", "emoji": False,
                                             "text": "Ukeoversikt for Forbedringsgruppen, "
                                                     "uke 10 2026"}}
    text = all_text(message["blocks"])
    for ref in refs.values():
        assert ref in text
    assert "*Dette har vi lært (lukket denne uka)*" in text
    # the group's words are shown, escaped: no broadcast, no mention
    assert "&lt;!channel&gt; &amp; &lt;@U0BAD&gt;" in text and "<!channel>" not in text
    assert "XYZZY" not in text and "slack:U" not in text and "U0REPORTER1" not in text
    call = fake_slack.calls_to("chat.postMessage")[0]
    assert call.params.get("unfurl_links") in (False, "0", "false")
    with ctx.db.reading() as s:
        run = s.scalars(select(m.DigestRun)).one()
    assert (run.channel, run.period, run.posted_at) == (CHANNEL, "2026-W10", MONDAY_0800)


def test_an_empty_week_still_posts_a_message(ctx: services.Context, clock: FakeClock,
                                             fake_slack: FakeSlack) -> None:
    clock.now = MONDAY_0800
    assert asyncio.run(run_digest(ctx=ctx, channel=CHANNEL, period="2026-W10",
                                  post=poster(fake_slack)))
    [message] = posted(fake_slack)
    assert "Ingen nye meldinger denne uka" in message["text"]
    assert_blocks_validate(message["blocks"])
    text = all_text(message["blocks"])
    assert "*Ingen nye meldinger denne uka*" in text
    assert "Ingen." in text  # nothing waiting either
    assert [b["type"] for b in message["blocks"]] == ["header", "context", "section",
                                                      "divider", "section"]


def test_a_slack_failure_frees_the_claim_and_a_retry_posts(ctx: services.Context,
                                                           clock: FakeClock,
                                                           fake_slack: FakeSlack) -> None:
    clock.now = MONDAY_0800
    fake_slack.fail("chat.postMessage", error="channel_not_found")
    with pytest.raises(DeliveryError) as failed:
        asyncio.run(run_digest(ctx=ctx, channel=CHANNEL, period="2026-W10",
                               post=poster(fake_slack)))
    assert failed.value.code == "slack_channel_not_found"
    assert run_state(ctx, CHANNEL, "2026-W10").last_error == "slack_channel_not_found"
    clock.advance(minutes=1)
    assert asyncio.run(run_digest(ctx=ctx, channel=CHANNEL, period="2026-W10",
                                  post=poster(fake_slack)))
    assert len(posted(fake_slack)) == 1


def _big_digest() -> Digest:
    long = "Læringspunkt & <mer> " * 200  # ~4000 characters, most of them escaped longer
    return Digest(
        week=IsoWeek(2026, 10), generated_at=MONDAY_0800, stale_days=7, total=500,
        by_kind=(Count("deviation", "deviation", 400), Count("suggestion", "suggestion", 100)),
        by_category=tuple(Count(f"cat{i}", f"Kategori {i} & <x>" * 3, 5) for i in range(100)),
        by_severity=(Count("minor", "minor", 500),),
        waiting=tuple(WaitingItem(f"MELD-2026-{i:04d}", "Epikrise", 100 - i % 90, "received",
                                  False) for i in range(50)),
        waiting_total=400,
        needs_info=tuple(NeedsInfoItem(f"MELD-2026-{i:04d}", "Henvisning", 3)
                         for i in range(50)),
        needs_info_total=60,
        learned=tuple(LearningItem(f"MELD-2026-{i:04d}", "Legemidler", long, long)
                      for i in range(50)),
        learned_total=75,
        top_suggestions=tuple(SuggestionItem(f"MELD-2026-{i:04d}", "Rutiner", 10 - i, 1)
                              for i in range(5)),
        previous_weeks_total=40,
        unread=tuple(UnreadItem(f"MELD-2026-{i:04d}", "Epikrise & <x>", 9, "closed")
                     for i in range(50)),
        unread_total=70,
    )


def test_a_huge_week_fits_slacks_limits() -> None:
    d = _big_digest()
    blocks = digest_blocks(d, NB)
    raw = [b.to_dict() for b in blocks]
    assert len(raw) == MAX_BLOCKS
    assert_blocks_validate(raw)
    assert isinstance(blocks[0], HeaderBlock)
    text = all_text(raw)
    waiting = next(b for b in raw if b.get("block_id") == "digest_waiting")["text"]["text"]
    assert waiting.rstrip().split("\n")[-1].startswith("… og ")
    shown = waiting.count("\n• ")
    assert f"… og {400 - shown} til" in waiting
    needs = next(b for b in raw if b.get("block_id") == "digest_needs_info")["text"]["text"]
    assert needs.endswith(f"… og {60 - needs.count(chr(10) + '• ')} til")
    unread = next(b for b in raw if b.get("block_id") == "digest_unread")["text"]["text"]
    assert "· lukket: gjenåpne?" in unread and "<x>" not in unread
    assert unread.endswith(f"… og {70 - unread.count(chr(10) + '• ')} til")
    learned = [b for b in blocks if str(b.block_id).startswith("digest_learned_")
               and str(b.block_id)[-1].isdigit()]
    assert learned and all(isinstance(b, SectionBlock) for b in learned)
    more = next(b for b in raw if b.get("block_id") == "digest_learned_more")
    assert all_text([more]) == f"… og {75 - len(learned)} til"
    assert "<mer>" not in text and "&lt;mer&gt;" in text
    assert len(digest_text(d, NB)) <= 3000


def test_english_works_too() -> None:
    raw = [b.to_dict() for b in digest_blocks(_big_digest(), Translator("en"))]
    assert "Weekly digest for Forbedringsgruppen, week 10 2026" in all_text(raw)


# ---------------------------------------------------------------- meld digest


def test_meld_digest_posts_once_and_says_so(ctx: services.Context, fake_slack: FakeSlack,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    settings = slack_settings(ctx.settings.database_url, fake_slack)
    assert main(["digest", "--week", "2026-W10"], settings=settings) == 0
    assert "Ukeoversikten for 2026-W10 er postet" in capsys.readouterr().out
    assert main(["digest", "--week", "2026-W10"], settings=settings) == 0
    assert "ble allerede postet" in capsys.readouterr().out
    assert [p["channel"] for p in posted(fake_slack)] == [TRIAGE_CHANNEL]
    assert_blocks_validate(posted(fake_slack)[0]["blocks"])
    # the default week is the last full one
    assert main(["digest"], settings=settings) == 0
    last = digest.week_ended_before(datetime.now(UTC)).key
    assert f"Ukeoversikten for {last} er postet" in capsys.readouterr().out
    fake_slack.fail("chat.postMessage", error="not_in_channel")
    assert main(["digest", "--week", "2026-W11"], settings=settings) == 1
    assert "slack_not_in_channel" in capsys.readouterr().err
    # a week that has not ended is not posted (nor claimed): its digest would be lost
    this_week = digest.week_of(datetime.now(ZoneInfo("Europe/Oslo")).date()).key
    assert main(["digest", "--week", this_week], settings=settings) == 2
    assert "er ikke over ennå" in capsys.readouterr().err
    assert run_state(ctx, CHANNEL, this_week) is None
    assert main(["digest", "--week", this_week, "--dry-run"], settings=settings) == 0
    assert len(posted(fake_slack)) == 2


def test_the_poster_needs_a_triage_channel(ctx: services.Context, fake_slack: FakeSlack) -> None:
    with pytest.raises(ValueError):
        slack_digest_poster(slack_settings(ctx.settings.database_url, fake_slack,
                                           slack_triage_channel=None))


# ---------------------------------------------------------------- inside `meld serve`


def _digest_posts(fake: FakeSlack) -> list[dict]:
    return [p for p in posted(fake) if p["channel"] == TRIAGE_CHANNEL
            and p["text"].startswith("Ukeoversikt")]


def test_serve_posts_the_missed_digest_once_across_replicas(sqlite_url: str,
                                                            fake_slack: FakeSlack) -> None:
    """The app catches up on last week's digest at start; a second replica does not."""
    settings = slack_settings(sqlite_url, fake_slack, run_digest_scheduler=True)
    first = start_slack_door(settings, fake_slack)
    try:
        deadline = time.monotonic() + 5
        while not _digest_posts(fake_slack) and time.monotonic() < deadline:
            time.sleep(0.01)
        [message] = _digest_posts(fake_slack)
        assert_blocks_validate(message["blocks"])
        second = start_slack_door(settings, fake_slack)
        try:
            time.sleep(0.3)
        finally:
            stop_slack_door(second)
    finally:
        stop_slack_door(first)
    assert len(_digest_posts(fake_slack)) == 1
    week = digest.week_ended_before(
        previous_run(datetime.now(UTC), settings.digest_rrule) or datetime.now(UTC))
    assert f"uke {week.week} {week.year}" in message["text"]


def test_serve_without_the_scheduler_posts_nothing(sqlite_url: str,
                                                   fake_slack: FakeSlack) -> None:
    door = start_slack_door(slack_settings(sqlite_url, fake_slack,
                                           run_digest_scheduler=False), fake_slack)
    try:
        time.sleep(0.2)
    finally:
        stop_slack_door(door)
    assert _digest_posts(fake_slack) == []


def test_build_digest_matches_what_slack_got(ctx: services.Context, clock: FakeClock) -> None:
    seed_week(ctx, clock)
    d = build_digest(ctx=ctx, week="2026-W10", now=MONDAY_0800 + timedelta(hours=1))
    raw = [b.to_dict() for b in digest_blocks(d, NB)]
    counts = next(b for b in raw if b.get("block_id") == "digest_counts")
    assert [f["text"].split("\n")[0] for f in counts["fields"]] == [
        "*Etter type*", "*Etter kategori*", "*Etter alvorlighetsgrad (slik den ble meldt)*"]
    assert "• Avvik: 1" in counts["fields"][0]["text"]
