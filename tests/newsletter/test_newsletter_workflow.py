"""Edit, approve, publish: who may, in which order, and what each step freezes. Publishing
claims each channel once, however often and from however many processes it runs, and
tells each contributor once, in their own channel."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from intake import services
from intake.domain.model import Actor, Conflict, PermissionDenied, Role, ValidationFailed
from storage import models as m
from storage.db import open_database
from storage.models_newsletter import NewsletterPublication
from tests.fakes import FakeClock
from tests.newsletter.conftest import (
    GROUP,
    READER,
    TERTIAL,
    Tertials,
    channel_settings,
    context_for,
    seed,
)

CHANNELS = ["web", "slack:CNEWS", "teams:19:news@thread.tacv2", "email:alle@example.no",
            "email:leger@example.no"]


def rows(ctx: services.Context, **where: Any) -> list[m.OutboxMessage]:
    with ctx.db.reading() as session:
        stmt = select(m.OutboxMessage).filter_by(**where).order_by(m.OutboxMessage.id)
        return list(session.scalars(stmt))


def audit(ctx: services.Context, action: str) -> list[m.AuditEvent]:
    with ctx.db.reading() as session:
        return list(session.scalars(select(m.AuditEvent).where(m.AuditEvent.action == action)))


def test_only_the_group_changes_it_and_readers_read(tertials: Tertials) -> None:
    seed(tertials)
    ctx = tertials.ctx
    assert services.newsletter(ctx=ctx, actor=READER, tertial=TERTIAL).status == "draft"
    reporter = Actor("slack:UREP001", Role.REPORTER)
    with pytest.raises(PermissionDenied):
        services.newsletter(ctx=ctx, actor=reporter, tertial=TERTIAL)
    for call in (services.draft_newsletter, services.approve_newsletter,
                 services.publish_newsletter):
        with pytest.raises(PermissionDenied):
            call(ctx=ctx, actor=READER, tertial=TERTIAL)
    with pytest.raises(PermissionDenied):
        services.edit_newsletter(ctx=ctx, actor=READER, tertial=TERTIAL, title="Nei")
    with pytest.raises(ValidationFailed):  # a tertial not yet begun, or no tertial at all
        services.newsletter(ctx=ctx, actor=GROUP, tertial="2027-T1")
    with pytest.raises(ValidationFailed):
        services.newsletter(ctx=ctx, actor=GROUP, tertial="2026")


def test_title_and_introduction_are_guarded_like_a_public_title(tertials: Tertials) -> None:
    seed(tertials)
    ctx = tertials.ctx
    for text in ("Ring 73 86 10 00", "Gjelder 12034423421", "Skriv til ola@example.no"):
        with pytest.raises(ValidationFailed):
            services.edit_newsletter(ctx=ctx, actor=GROUP, tertial=TERTIAL, title=text)
        with pytest.raises(ValidationFailed):
            services.edit_newsletter(ctx=ctx, actor=GROUP, tertial=TERTIAL,
                                     introduction=text)
    view = services.edit_newsletter(ctx=ctx, actor=GROUP, tertial=TERTIAL,
                                    title="Læring fra første tertial",
                                    introduction="Takk til alle som meldte.")
    assert (view.custom_title, view.introduction) == ("Læring fra første tertial",
                                                      "Takk til alle som meldte.")
    assert [e.details["fields"] for e in audit(ctx, "newsletter_edited")] == [
        ["title", "introduction"]]


def test_approve_freezes_it_an_edit_returns_it_to_draft(tertials: Tertials) -> None:
    seed(tertials)
    ctx = tertials.ctx
    with pytest.raises(ValidationFailed):  # a named member approves
        services.approve_newsletter(ctx=ctx, actor=Actor("token:1:bot", Role.TRIAGER),
                                    tertial=TERTIAL)
    with pytest.raises(Conflict):  # not approved: not published
        services.draft_newsletter(ctx=ctx, actor=GROUP, tertial=TERTIAL)
        services.publish_newsletter(ctx=ctx, actor=GROUP, tertial=TERTIAL)
    draft = services.newsletter(ctx=ctx, actor=GROUP, tertial=TERTIAL)
    with pytest.raises(Conflict):  # approving what one did not read
        services.approve_newsletter(ctx=ctx, actor=GROUP, tertial=TERTIAL,
                                    revision=draft.revision + 1)
    approved = services.approve_newsletter(ctx=ctx, actor=GROUP, tertial=TERTIAL,
                                           revision=draft.revision)
    assert (approved.status, approved.approved_by) == ("approved", "Kari Gruppeleder")
    assert approved.items == draft.items
    # a report closed later in the tertial does not slip into what was approved
    tertials.closed("Sent læringspunkt.", at=tertials.clock.now.replace(month=4, day=29),
                    category="admission")
    assert services.newsletter(ctx=ctx, actor=GROUP, tertial=TERTIAL).items == draft.items
    edited = services.edit_newsletter(ctx=ctx, actor=GROUP, tertial=TERTIAL, title="Ny tittel")
    assert (edited.status, edited.approved_by) == ("draft", None)
    assert any(i.category_id == "admission" for i in edited.items)
    assert audit(ctx, "newsletter_edited")[-1].details["returned_to_draft"] is True


def test_published_is_final(tertials: Tertials) -> None:
    seed(tertials)
    ctx = tertials.ctx
    services.approve_newsletter(ctx=ctx, actor=GROUP, tertial=TERTIAL)
    result = services.publish_newsletter(ctx=ctx, actor=GROUP, tertial=TERTIAL)
    assert result.published_now and result.view.status == "published"
    assert result.claimed == ("web",) and result.already == ()
    for call in (services.draft_newsletter, services.approve_newsletter):
        with pytest.raises(Conflict):
            call(ctx=ctx, actor=GROUP, tertial=TERTIAL)
    with pytest.raises(Conflict):
        services.edit_newsletter(ctx=ctx, actor=GROUP, tertial=TERTIAL, title="For sent")
    assert services.public_newsletter(ctx=ctx, slug=result.view.slug).status == "published"
    assert services.public_newsletter(ctx=ctx, slug="not-a-slug") is None


def test_a_draft_has_no_public_page(tertials: Tertials) -> None:
    seed(tertials)
    view = services.draft_newsletter(ctx=tertials.ctx, actor=GROUP, tertial=TERTIAL)
    assert view.slug and services.public_newsletter(ctx=tertials.ctx, slug=view.slug) is None
    services.approve_newsletter(ctx=tertials.ctx, actor=GROUP, tertial=TERTIAL)
    assert services.public_newsletter(ctx=tertials.ctx, slug=view.slug) is None


def test_each_channel_once_when_publish_runs_again(channel_ctx: services.Context,
                                                   clock: FakeClock) -> None:
    t = Tertials(ctx=channel_ctx, clock=clock)
    seed(t)
    services.approve_newsletter(ctx=channel_ctx, actor=GROUP, tertial=TERTIAL)
    first = services.publish_newsletter(ctx=channel_ctx, actor=GROUP, tertial=TERTIAL)
    assert list(first.claimed) == CHANNELS
    again = services.publish_newsletter(ctx=channel_ctx, actor=GROUP, tertial=TERTIAL)
    assert (again.published_now, again.claimed, list(again.already)) == (False, (), CHANNELS)
    posts = rows(channel_ctx, event="newsletter_published")
    assert sorted((p.channel, p.recipient) for p in posts) == [
        ("newsletter_email", "alle@example.no"), ("newsletter_email", "leger@example.no"),
        ("newsletter_slack", "CNEWS"), ("newsletter_teams", "19:news@thread.tacv2")]
    payload = posts[0].payload
    assert payload["url"].startswith("https://meld.example.no/nyhetsbrev/")
    assert (payload["total"], payload["good_total"]) == (12, 3)
    assert len(audit(channel_ctx, "newsletter_published")) == 1


def test_a_channel_configured_later_is_published_to_once(channel_ctx: services.Context,
                                                         clock: FakeClock,
                                                         db_url: str) -> None:
    t = Tertials(ctx=channel_ctx, clock=clock)
    seed(t)
    services.approve_newsletter(ctx=channel_ctx, actor=GROUP, tertial=TERTIAL)
    without_mail = context_for(channel_ctx.db, channel_settings(db_url, mail_transport=None),
                               clock)
    first = services.publish_newsletter(ctx=without_mail, actor=GROUP, tertial=TERTIAL)
    assert list(first.claimed) == CHANNELS[:3]
    later = services.publish_newsletter(ctx=channel_ctx, actor=GROUP, tertial=TERTIAL)
    assert (later.published_now, list(later.claimed)) == (False, CHANNELS[3:])
    assert len(rows(channel_ctx, event="newsletter_published")) == 4


def test_two_processes_publishing_at_once_publish_each_channel_once(
        channel_ctx: services.Context, clock: FakeClock, db_url: str) -> None:
    t = Tertials(ctx=channel_ctx, clock=clock)
    seed(t)
    services.approve_newsletter(ctx=channel_ctx, actor=GROUP, tertial=TERTIAL)
    contexts = [context_for(open_database(db_url), channel_ctx.settings, clock)
                for _ in range(2)]
    start = threading.Barrier(len(contexts))
    results: list[Any] = []
    errors: list[BaseException] = []

    def publish(ctx: services.Context) -> None:
        start.wait()
        try:
            results.append(services.publish_newsletter(ctx=ctx, actor=GROUP, tertial=TERTIAL))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(c,)) for c in contexts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for c in contexts:
        c.db.dispose()
    assert errors == []
    assert sorted(r.published_now for r in results) == [False, True]
    assert sorted(c for r in results for c in r.claimed) == sorted(CHANNELS)
    with channel_ctx.db.reading() as session:
        claims = session.scalar(select(func.count()).select_from(NewsletterPublication))
    assert claims == len(CHANNELS)
    assert len(rows(channel_ctx, event="newsletter_published")) == 4
    notices = rows(channel_ctx, event="newsletter_contribution")
    assert len({(n.channel, n.recipient) for n in notices}) == len(notices) > 0


def test_every_contributor_is_told_once_in_their_own_channel(
        channel_ctx: services.Context, clock: FakeClock) -> None:
    ctx = channel_ctx  # e-mail on: a reporter may ask for notices by mail
    tertials = Tertials(ctx=ctx, clock=clock)
    one = tertials.closed("Epikrisen sendes samme dag.", reporter="slack:UKARI")
    two = tertials.closed("Henvisningen adresseres riktig.", reporter="slack:UKARI",
                          category="referral")
    teams = tertials.closed("Prøvesvar følges opp av den som bestilte.",
                            reporter="teams:0a0a0a0a-0000-4000-8000-000000000001",
                            category="follow_up")
    web = tertials.closed("Dialogmelding besvares innen to dager.",
                          reporter="web:anon-1", category="e_messaging",
                          email="lege@example.no")
    flagged = tertials.closed("Ring 73 86 10 00.", reporter="slack:UFLAG",
                              category="reachability")
    services.plus_one(ctx=ctx, actor=Actor("slack:UOLA", Role.REPORTER), reference=one)
    services.plus_one(ctx=ctx, actor=Actor("slack:UOLA", Role.REPORTER), reference=two)
    services.plus_one(ctx=ctx, actor=Actor("slack:UKARI", Role.REPORTER), reference=teams)
    services.plus_one(ctx=ctx, actor=Actor("web:follower", Role.REPORTER), reference=one)
    services.plus_one(ctx=ctx, actor=Actor("slack:UPER", Role.REPORTER), reference=flagged)
    tertials.clock.now = tertials.clock.now.replace(month=5)
    services.approve_newsletter(ctx=ctx, actor=GROUP, tertial=TERTIAL)
    result = services.publish_newsletter(ctx=ctx, actor=GROUP, tertial=TERTIAL)
    services.publish_newsletter(ctx=ctx, actor=GROUP, tertial=TERTIAL)  # nothing again
    notices = rows(ctx, event="newsletter_contribution")
    told = sorted((n.channel, n.recipient, n.payload["role"], tuple(n.payload["references"]))
                  for n in notices)
    assert told == [
        ("email", f"email:{web}", "reporter", (web,)),
        ("slack", "slack:UKARI", "reporter", (one, two)),
        ("slack", "slack:UOLA", "supporter", (one, two)),
        ("teams", "teams:0a0a0a0a-0000-4000-8000-000000000001", "reporter", (teams,)),
        ("web", "web:anon-1", "reporter", (web,)),
    ]  # not the reporter or the +1 of the left-out item, not the web +1 (its own page)
    assert result.notices == len(notices)
    assert all(n.payload["url"] == f"https://meld.example.no/nyhetsbrev/{result.view.slug}"
               for n in notices)
    assert not any("Epikrisen" in str(n.payload) for n in notices)


def test_publishing_again_retries_a_post_that_failed_for_good(
        channel_ctx: services.Context, clock: FakeClock) -> None:
    t = Tertials(ctx=channel_ctx, clock=clock)
    seed(t)
    services.approve_newsletter(ctx=channel_ctx, actor=GROUP, tertial=TERTIAL)
    services.publish_newsletter(ctx=channel_ctx, actor=GROUP, tertial=TERTIAL)
    with channel_ctx.db.transaction() as session:
        for post in session.scalars(select(m.OutboxMessage).where(
                m.OutboxMessage.event == "newsletter_published")):
            if post.channel == "newsletter_slack":  # refused: never delivered
                post.failed_at, post.attempts = clock(), 12
                post.last_error = "slack_channel_not_found"
            elif post.channel == "newsletter_teams":  # parked: it may have arrived
                post.failed_at, post.last_error = clock(), "unverified:teams_timeout"
            else:
                post.delivered_at = clock()
    again = services.publish_newsletter(ctx=channel_ctx, actor=GROUP, tertial=TERTIAL)
    assert (again.published_now, again.claimed, again.retried) == (False, (), 1)
    states = {p.channel: (p.failed_at is None, p.attempts, p.delivered_at is None)
              for p in rows(channel_ctx, event="newsletter_published")}
    assert states["newsletter_slack"] == (True, 0, True)  # queued once more
    assert states["newsletter_teams"][0] is False  # left for a person to settle
    assert len(rows(channel_ctx, event="newsletter_published")) == 4  # no new post row
    view = services.newsletter(ctx=channel_ctx, actor=GROUP, tertial=TERTIAL)
    assert sorted((p.channel.partition(":")[0], p.state) for p in view.publications) == [
        ("email", "published"), ("email", "published"), ("slack", "pending"),
        ("teams", "failed"), ("web", "published")]
