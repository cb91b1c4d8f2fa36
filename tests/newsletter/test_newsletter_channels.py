"""Publishing through the real app: the announcement reaches the fake Slack, the fake Bot
Connector and a real SMTP server (aiosmtpd) once each, the contributors' notices go out,
and the public page and PDF are served at the stable link only once published."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from intake import services
from intake.app import create_app
from intake.settings import Settings
from storage.db import Database
from tests.doors.conftest import LiveServer, bound_socket
from tests.fakes import FakeClock, strings_in
from tests.mail.fakes import SmtpServer
from tests.newsletter.conftest import GROUP, KEY, SECRET, TERTIAL, Tertials, context_for, seed
from tests.slack_fake import FakeSlack
from tests.teams_fake import APP_ID, APP_PASSWORD, TENANT_ID, FakeMicrosoft

QUIET = {"run_outbox_worker": False, "run_digest_scheduler": False,
         "run_promise_scheduler": False, "rate_limit_enabled": False}


class Site:
    """The real app on loopback over this test's database, on the test's clock."""

    def __init__(self, db_url: str, database: Database, clock: FakeClock,
                 **overrides: Any) -> None:
        self.sock = bound_socket()
        values: dict[str, Any] = {
            "database_url": db_url, "secret_key": KEY,
            "base_url": f"http://127.0.0.1:{self.sock.getsockname()[1]}", **QUIET}
        if "run_cluster_alerts" in Settings.model_fields:  # another feature's scheduler
            values["run_cluster_alerts"] = False
        values.update(overrides)
        self.settings = Settings(**values)
        self.ctx = context_for(database, self.settings, clock)
        self.app = create_app(self.settings, ctx=self.ctx)
        self.server = LiveServer(self.app, self.sock)
        self.server.start()
        self.http = httpx.Client(base_url=self.server.url, timeout=30)
        self.tertials = Tertials(ctx=self.ctx, clock=clock)

    def publish(self) -> services.PublishResult:
        seed(self.tertials)
        services.approve_newsletter(ctx=self.ctx, actor=GROUP, tertial=TERTIAL)
        return services.publish_newsletter(ctx=self.ctx, actor=GROUP, tertial=TERTIAL)

    def drain(self) -> int:
        return asyncio.run(self.app.state.worker.drain())

    def close(self) -> None:
        """Stop the app and wait for it; again is a no-op."""
        if not self.http.is_closed:
            self.http.close()
            self.server.stop(wait=True)


@pytest.fixture
def site(db_url: str, database: Database, clock: FakeClock) -> Iterator[Any]:
    made: list[Site] = []

    def make(**overrides: Any) -> Site:
        made.append(Site(db_url, database, clock, **overrides))
        return made[-1]

    yield make
    for s in made:
        s.close()


@pytest.fixture(scope="module")
def microsoft(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeMicrosoft]:
    with FakeMicrosoft(tmp_path_factory.mktemp("ms")) as fake:
        yield fake


def test_the_page_and_the_pdf_are_public_once_published(site: Any) -> None:
    s = site()
    seed(s.tertials)
    draft = services.draft_newsletter(ctx=s.ctx, actor=GROUP, tertial=TERTIAL)
    assert s.http.get(f"/nyhetsbrev/{draft.slug}").status_code == 404  # a draft: nobody
    services.approve_newsletter(ctx=s.ctx, actor=GROUP, tertial=TERTIAL)
    assert s.http.get(f"/nyhetsbrev/{draft.slug}.pdf").status_code == 404
    result = services.publish_newsletter(ctx=s.ctx, actor=GROUP, tertial=TERTIAL)
    assert result.view.slug == draft.slug  # the link was stable from the start
    page = s.http.get(f"/nyhetsbrev/{draft.slug}")
    assert page.status_code == 200 and "Dette har vi lært" in page.text
    assert "style-src 'unsafe-inline'" in page.headers["content-security-policy"]
    assert page.headers["x-robots-tag"] == "noindex"
    assert SECRET not in page.text
    pdf = s.http.get(f"/nyhetsbrev/{draft.slug}.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    assert s.http.get("/nyhetsbrev/no-such-newsletter").status_code == 404


def test_the_post_reaches_slack_once_and_the_reporters_in_their_dms(site: Any) -> None:
    with FakeSlack() as slack:
        s = site(slack_bot_token="xoxb-test", slack_api_url=slack.url,
                 slack_triage_channel="CTRIAGE", newsletter_slack_channel="CNEWS")
        result = s.publish()
        s.drain()
        services.publish_newsletter(ctx=s.ctx, actor=GROUP, tertial=TERTIAL)  # again
        s.drain()
        posts = [c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == "CNEWS"]
        assert len(posts) == 1
        text = " ".join(strings_in(posts[0].json_param("blocks")))
        assert "Dette har vi lært: 1. tertial 2026" in text
        assert "Lukkede meldinger om avvik, forslag og innspill: 12" in text
        assert f"/nyhetsbrev/{result.view.slug}|Les nyhetsbrevet>" in text
        # every Slack reporter of an included item got one DM with the link; none of the
        # reporter of the left-out item
        dms = [c for c in slack.calls_to("chat.postMessage")
               if c.params["channel"] != "CNEWS" and "nyhetsbrev" in c.params["text"]]
        # 14 reports behind the included items of T1, each its own reporter
        assert len(dms) == result.notices == 14
        assert all(f"/nyhetsbrev/{result.view.slug}" in str(c.params) for c in dms)
        for call in posts + dms:
            assert SECRET not in str(call.params)


def test_the_post_reaches_the_teams_channel_once(site: Any, microsoft: FakeMicrosoft) -> None:
    microsoft.sent.clear()
    conversation = "19:news0000000000@thread.tacv2"
    s = site(teams_app_id=APP_ID, teams_app_password=APP_PASSWORD, teams_tenant_id=TENANT_ID,
             teams_authority_url=microsoft.url,
             teams_openid_metadata_url=microsoft.metadata_url,
             teams_service_urls=microsoft.url, teams_ca_bundle=microsoft.cert,
             teams_triage_conversation="19:triage0000000000@thread.tacv2",
             teams_triage_service_url=microsoft.service_url,
             newsletter_teams_conversation=conversation)
    s.publish()
    s.drain()
    services.publish_newsletter(ctx=s.ctx, actor=GROUP, tertial=TERTIAL)
    s.drain()
    posts = [x for x in microsoft.sent if x.conversation == conversation]
    assert len(posts) == 1
    card = posts[0].body["attachments"][0]["content"]
    texts = strings_in(card)
    assert texts[0] == "Dette har vi lært: 1. tertial 2026"
    assert any("færre enn 3" in t or "12" in t for t in texts)
    assert [a["title"] for a in card["actions"]] == ["Les nyhetsbrevet",
                                                     "Nyhetsbrevet som PDF"]
    assert SECRET not in str(posts[0].body)


def test_the_mail_reaches_each_address_of_the_list_once(site: Any, tmp_path: Path) -> None:
    with SmtpServer() as smtp:
        s = site(mail_transport="smtp", smtp_url=smtp.url(), mail_from="meld@helse.example.no",
                 smtp_starttls="off", mail_timeout_seconds=3,
                 newsletter_mail_to="alle-fastleger@example.no, leger@stolav.example.no")
        try:
            result = s.publish()
            s.drain()
            services.publish_newsletter(ctx=s.ctx, actor=GROUP, tertial=TERTIAL)
            s.drain()
            mails = smtp.wait_mails(2)
        finally:
            s.close()  # before the server stops (the worker's socket)
    assert sorted(r for mail in mails for r in mail.rcpt_tos) == [
        "alle-fastleger@example.no", "leger@stolav.example.no"]
    message = mails[0].message
    assert message["Subject"] == "Dette har vi lært: 1. tertial 2026"
    assert message["Message-ID"].startswith("<meld.newsletter.")
    plain = message.get_body(("plain",)).get_content()
    assert f"{s.settings.base_url}/nyhetsbrev/{result.view.slug}" in plain
    assert "Lukkede meldinger om avvik, forslag og innspill: 12" in plain
    assert SECRET not in plain and SECRET not in message.get_body(("html",)).get_content()
