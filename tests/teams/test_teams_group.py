"""The group in Teams: commands, refusal, cards and dialogs; proactive notices; the digest."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from bot.teams.notifier import TeamsDigestPoster
from intake.reporting import digest as d
from intake.reporting.digest_schedule import run_digest
from storage import models as m
from tests.teams.conftest import (
    GROUP,
    OUTSIDER,
    REPORTER,
    TRIAGE,
    TeamsHarness,
    card_texts,
    form_data,
)


def test_triage_commands_in_the_channel_use_the_shared_language(teams: TeamsHarness) -> None:
    reference = teams.seed_report()
    teams.message("<at>Meld</at> liste", user=GROUP, conversation="channel")
    teams.wait_replies()  # replies run in the background, concurrently
    teams.message(f"<at>Meld</at> status {reference} triage", user=GROUP,
                  conversation="channel")
    teams.wait_replies()
    listing, moved = teams.ms.wait_sent(2)
    assert listing.body["textFormat"] == "plain"
    assert reference in listing.body["text"]
    assert listing.conversation == f"{TRIAGE};messageid=170000001"  # a reply in the thread
    assert "ny status" in moved.body["text"]
    [report] = teams.reports()
    assert report.status == "triage"


def test_a_retried_command_message_runs_once(teams: TeamsHarness) -> None:
    reference = teams.seed_report()
    activity = teams.activity("message", text=f"<at>Meld</at> notat {reference} sjekket",
                              user=GROUP, conversation="channel")
    assert teams.post(activity).status_code == 200
    assert teams.post(activity).status_code == 200  # Teams retried after 15 s
    teams.wait_replies()
    with teams.ctx.db.reading() as session:
        notes = session.scalars(select(m.Message).where(m.Message.purpose == "note")).all()
    assert len(notes) == 1


def test_people_outside_the_group_are_refused_and_audited(teams: TeamsHarness) -> None:
    reference = teams.seed_report()
    teams.message(f"<at>Meld</at> vis {reference}", user=OUTSIDER, conversation="channel")
    teams.wait_replies()
    [answer] = teams.ms.wait_sent(1)
    assert "Forbedringsgruppen" in answer.body["text"]
    assert reference not in answer.body["text"]
    assert len(teams.audit("denied")) == 1
    # the card buttons too
    body = teams.invoke("task/fetch", {"data": {"meld": "show", "reference": reference}},
                        user=OUTSIDER, conversation="channel")
    assert body["task"]["type"] == "message"
    assert len(teams.audit("denied")) == 2


def test_new_reports_post_a_card_to_the_group_channel(teams: TeamsHarness) -> None:
    teams.submit_form(form_data())
    [report] = teams.reports()
    assert teams.drain() == 2  # the receipt and the group card
    cards = [s for s in teams.ms.sent if s.conversation == TRIAGE]
    assert len(cards) == 1
    text = card_texts(cards[0].card)
    assert report.reference in text
    assert report.description not in text  # coded fields only
    verbs = [a["data"]["meld"] for a in cards[0].card["actions"]]
    assert verbs == ["show", "assess", "reply"]


def test_the_receipt_reaches_the_reporter_in_their_personal_chat(teams_both: TeamsHarness,
                                                                 ) -> None:
    teams = teams_both
    teams.message("meld")  # the personal chat Meld will write to
    teams.wait_replies()
    teams.ms.sent.clear()
    teams.submit_form(form_data())
    [report] = teams.reports()
    teams.drain()
    [receipt] = [s for s in teams.ms.sent if s.conversation == f"a:personal-{REPORTER}"]
    assert receipt.method == "POST" and receipt.path.endswith("/activities")
    assert receipt.token and receipt.token.startswith("bot-token-")
    assert report.reference in card_texts(receipt.card)
    assert receipt.card["actions"][0]["data"]["meld"] == "answer"


def test_good_collaboration_needs_no_severity_and_is_thanked(teams: TeamsHarness) -> None:
    teams.message("meld")  # the personal chat Meld will write to
    teams.wait_replies()
    [form] = teams.ms.wait_sent(1)
    severity = next(e for e in form.card["body"] if e.get("id") == "severity")
    assert not severity.get("isRequired")  # asked by the service of every other kind
    teams.ms.sent.clear()
    teams.submit_form(form_data(kind="good_collaboration", severity=None,
                                description="Kommunen fikk beskjed i god tid. Takk!"))
    [report] = teams.reports()
    assert (report.kind, report.reported_severity) == ("good_collaboration", "none")
    assert teams.drain() == 2
    [receipt] = [s for s in teams.ms.sent if s.conversation == f"a:personal-{REPORTER}"]
    text = card_texts(receipt.card)
    assert "Takk for at du forteller oss hva som fungerte!" in text
    assert report.reference in text and "senest" not in text
    [card] = [s for s in teams.ms.sent if s.conversation == TRIAGE]
    assert "Godt samarbeid: noe som fungerte. Ikke et avvik; telles for seg." in card_texts(
        card.card)
    assert card.card["body"][0]["color"] == "Good"
    assert "Alvorlighet" not in card_texts(card.card)  # no harm was asked


def test_a_reporter_seen_only_in_a_channel_gets_a_new_personal_chat(teams: TeamsHarness,
                                                                     ) -> None:
    teams.invoke("composeExtension/submitAction",
                 {"commandId": "meld_message", "data": form_data()}, conversation="channel")
    teams.drain()
    created = [s for s in teams.ms.sent if s.path == "/v3/conversations"]
    assert len(created) == 1
    assert created[0].body["members"] == [{"id": f"29:user-{REPORTER}"}]
    assert created[0].body["tenantId"]
    new_id = [s for s in teams.ms.sent if s.conversation.startswith("a:new-personal-")]
    assert len(new_id) == 1
    # the next notice reuses the chat
    reference = teams.reports()[0].reference
    teams.message(f"<at>Meld</at> status {reference} triage", user=GROUP,
                  conversation="channel")
    teams.wait_replies()
    teams.drain()
    assert len([s for s in teams.ms.sent if s.path == "/v3/conversations"]) == 1


def test_status_changes_and_replies_reach_the_reporter_who_can_answer(
        teams: TeamsHarness) -> None:
    teams.message("meld")
    teams.wait_replies()
    reference = teams.seed_report()
    teams.drain()
    teams.ms.sent.clear()
    # the group replies through the card's dialog
    body = teams.invoke("task/fetch", {"data": {"meld": "reply", "reference": reference}},
                        user=GROUP, conversation="channel")
    assert body["task"]["type"] == "continue"
    body = teams.invoke("task/submit", {"data": {"meld": "reply", "reference": reference,
                                                 "text": "Takk, vi ser på det."}},
                        user=GROUP, conversation="channel")
    assert body["task"]["type"] == "message"
    teams.drain()
    notices = [s for s in teams.ms.sent if s.conversation == f"a:personal-{REPORTER}"]
    # moved to triage by the reply, then the reply itself with the group's words
    assert len(notices) == 2
    assert "Takk, vi ser på det." in card_texts(notices[-1].card)
    # the reporter answers from the notice's button
    body = teams.invoke("task/fetch", {"data": {"meld": "answer", "reference": reference}})
    assert body["task"]["value"]["card"]["content"]["actions"][0]["data"]["meld"] == "answer"
    body = teams.invoke("task/submit", {"data": {"meld": "answer", "reference": reference,
                                                 "text": "Det gjaldt utskriving fredag."}})
    assert body["task"]["type"] == "message"
    with teams.ctx.db.reading() as session:
        directions = session.scalars(select(m.Message.direction)
                                     .order_by(m.Message.id)).all()
    assert list(directions) == ["group", "reporter"]
    # someone else cannot answer on this report
    body = teams.invoke("task/submit", {"data": {"meld": "answer", "reference": reference,
                                                 "text": "Hei"}}, user=OUTSIDER)
    assert body["task"]["type"] == "message"
    assert "Det gjaldt" not in body["task"]["value"]


def test_close_and_assess_dialogs(teams: TeamsHarness) -> None:
    reference = teams.seed_report()
    teams.message(f"<at>Meld</at> status {reference} triage", user=GROUP,
                  conversation="channel")
    teams.wait_replies()
    body = teams.invoke("task/fetch", {"data": {"meld": "assess", "reference": reference}},
                        user=GROUP, conversation="channel")
    assert body["task"]["type"] == "continue"
    body = teams.invoke("task/submit", {"data": {"meld": "assess", "reference": reference,
                                                 "category": "medication",
                                                 "assessed_severity": "moderate"}},
                        user=GROUP, conversation="channel")
    assert body["task"]["type"] == "message", body
    teams.message(f"<at>Meld</at> status {reference} tiltak", user=GROUP,
                  conversation="channel")
    teams.wait_replies()
    teams.message(f"<at>Meld</at> lukk {reference}", user=GROUP, conversation="channel")
    teams.wait_replies()
    opener = teams.ms.wait_sent(3)[-1]
    assert opener.card["actions"][0]["data"] == {"msteams": {"type": "task/fetch"},
                                                 "meld": "close", "reference": reference}
    # a missing measure: the dialog stays with the error beside the field
    body = teams.invoke("task/submit", {"data": {"meld": "close", "reference": reference,
                                                 "learning_point": "Sjekk epikrise"}},
                        user=GROUP, conversation="channel")
    assert body["task"]["type"] == "continue"
    body = teams.invoke("task/submit", {"data": {"meld": "close", "reference": reference,
                                                 "learning_point": "Sjekk epikrise",
                                                 "measure": "Ny rutine"}},
                        user=GROUP, conversation="channel")
    assert body["task"]["type"] == "message"
    [report] = teams.reports()
    assert (report.status, report.category_id, report.assessed_severity) == (
        "closed", "medication", "moderate")


def test_the_weekly_digest_posts_once_to_the_teams_channel(teams_both: TeamsHarness) -> None:
    teams = teams_both
    reference = teams.seed_report()
    poster: TeamsDigestPoster = teams.door.app.state.teams.digest_poster
    assert poster.channel_key == f"teams:{TRIAGE}"
    ended = d.week_ended_before(teams.ctx.clock())  # only a week that has ended is posted
    week = ended.key
    filed = ended.bounds(teams.ctx.settings.timezone)[0] + timedelta(days=2)
    with teams.ctx.db.transaction() as session:  # the report came in during that week
        session.execute(update(m.Report).where(m.Report.reference == reference).values(
            reported_at=filed, reported_on=teams.ctx.local_date(filed),
            status_changed_at=filed))
    assert asyncio.run(run_digest(ctx=teams.ctx, channel=poster.channel_key, period=week,
                                  post=poster))
    assert not asyncio.run(run_digest(ctx=teams.ctx, channel=poster.channel_key,
                                      period=week, post=poster))
    posted = [s for s in teams.ms.sent if s.conversation == TRIAGE]
    assert len(posted) == 1
    text = card_texts(posted[0].card)
    assert "Nye meldinger denne uka: 1" in text and f"uke {ended.week} " in text
    with teams.ctx.db.reading() as session:
        run = session.scalars(select(m.DigestRun)).one()
    assert run.channel == f"teams:{TRIAGE}" and run.posted_at is not None


def test_a_failed_notice_is_retried_by_the_outbox(teams: TeamsHarness) -> None:
    teams.message("meld")
    teams.wait_replies()
    teams.ms.sent.clear()
    teams.seed_report()
    teams.ms.fail_next = [502, 502]  # the receipt and the group card fail once
    assert teams.drain() == 0
    with teams.ctx.db.transaction() as session:
        rows = session.scalars(select(m.OutboxMessage)).all()
        assert [r.last_error for r in rows] == ["teams_http_502"] * 2
        assert all(r.delivered_at is None and r.failed_at is None for r in rows)
        for r in rows:  # due again now
            r.next_attempt_at = r.created_at
    assert teams.drain() == 2
    assert len([s for s in teams.ms.sent if s.conversation == f"a:personal-{REPORTER}"]) == 2


def test_triage_in_a_group_chat_with_meld(teams: TeamsHarness) -> None:
    reference = teams.seed_report()
    chat = "19:groupchat-forbedring@thread.v2"
    teams.message(f"<at>Meld</at> vis {reference}", user=GROUP, conversation=chat)
    teams.wait_replies()
    [answer] = teams.ms.wait_sent(1)
    assert answer.conversation == chat
    # the text is never posted in a chat or channel: a button opens it in a dialog
    assert reference in card_texts(answer.card)
    assert "Epikrise manglet" not in card_texts(answer.card)
    assert answer.card["actions"][0]["data"]["meld"] == "show"
    body = teams.invoke("task/fetch", {"data": {"meld": "show", "reference": reference}},
                        user=GROUP, conversation=chat)
    assert "Epikrise manglet" in card_texts(body["task"]["value"]["card"]["content"])
    assert len(teams.audit("read")) == 2  # `vis` and the dialog: every group read audited


def test_meld_digest_teams_posts_once_and_says_so(sqlite_url: str, ms, capsys) -> None:
    from intake.cli.main import main
    from intake.settings import Settings
    from tests.teams.conftest import teams_settings

    settings = teams_settings(sqlite_url, ms)
    assert main(["digest", "--teams", "--week", "2026-W10"], settings=settings) == 0
    assert "Ukeoversikten for 2026-W10 er postet" in capsys.readouterr().out
    assert main(["digest", "--teams", "--week", "2026-W10"], settings=settings) == 0
    assert "ble allerede postet" in capsys.readouterr().out
    assert [s.conversation for s in ms.sent] == [TRIAGE]
    ms.fail_next = [403]
    assert main(["digest", "--teams", "--week", "2026-W11"], settings=settings) == 1
    assert "teams_http_403" in capsys.readouterr().err
    plain = Settings(database_url=sqlite_url, secret_key="test-secret" * 3)
    assert main(["digest", "--teams", "--week", "2026-W12"], settings=plain) == 1
    assert "MELD_TEAMS_TRIAGE_CONVERSATION" in capsys.readouterr().err


def test_serve_posts_the_missed_digest_to_teams_once(sqlite_url: str, ms) -> None:
    import time

    from tests.teams.conftest import _start, _stop, teams_settings

    h = _start(teams_settings(sqlite_url, ms, run_digest_scheduler=True), ms)
    try:
        deadline = time.monotonic() + 5
        while not [s for s in ms.sent if s.conversation == TRIAGE] and \
                time.monotonic() < deadline:
            time.sleep(0.01)
        second = _start(teams_settings(sqlite_url, ms, run_digest_scheduler=True), ms)
        time.sleep(0.3)
        _stop(second)
    finally:
        _stop(h)
    posted = [s for s in ms.sent if s.conversation == TRIAGE]
    assert len(posted) == 1
    assert posted[0].card["body"][0]["text"].startswith("Ukeoversikt")


JUNK = [None, 5, [], {}, ["x"], {"a": 1}, "", "x" * 5000, True]


def test_odd_payloads_get_answers_never_a_500(teams: TeamsHarness) -> None:
    reference = teams.seed_report()
    names = ["adaptiveCard/action", "task/fetch", "task/submit", "composeExtension/fetchTask",
             "composeExtension/submitAction", "signin/verifyState", ""]
    dialogs = ["show", "assess", "reply", "close", "answer", "submit", "nope"]
    for junk in JUNK:
        for name in names:
            for dialog in dialogs:
                data = {"meld": dialog, "reference": reference, "text": junk,
                        "category": junk, "assessed_severity": junk,
                        "agreement_reference": junk, "learning_point": junk,
                        "measure": junk, "key": junk, "description": junk, "no_ids": junk}
                value = {"data": data, "action": {"verb": "meld_submit", "data": data},
                         "messagePayload": {"body": {"contentType": "html", "content": junk}}}
                r = teams.post(teams.activity("invoke", name=name, value=value, user=GROUP,
                                              conversation="channel"))
                # an invoke without a name is not an activity: 400, never a 500
                assert r.status_code == (200 if name else 400), (name, dialog, junk, r.text)
        r = teams.post(teams.activity("invoke", name="task/fetch", value=junk))
        assert r.status_code in (200, 400), r.text
        r = teams.post(teams.activity("message", text=junk if isinstance(junk, str) else None,
                                      value=junk))
        assert r.status_code in (200, 400), r.text
    teams.wait_replies()
