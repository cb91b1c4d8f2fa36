"""Search and similar reports in the group's chat: `søk <ord …>` (also `sok`, `search`) and
`lik REF` (also `similar REF`) in the shared triage command language.

Through the real doors: the app on uvicorn with Slack (fake Web API, signed `/triage`
requests) and Teams (fake Bot Connector, RSA-signed JWTs, `<at>Meld</at> ...` in the group's
channel) on, on SQLite and PostgreSQL. The reports are stored through the service. The
parser and the runner are tested on their own too. Only coded fields are answered, never a
reporter's text.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.chat.commands import CommandResult, run_command
from bot.chat.parsing import Cmd, ParseError, help_text, parse
from intake import services
from intake.domain.model import Actor, Role
from intake.i18n import Translator
from storage import models as m
from tests.bot.conftest import (
    GROUP_USER,
    OUTSIDER,
    REPORTER,
    SlackDoor,
)
from tests.doors.conftest import _join_stopped_servers  # noqa: F401 (autouse)
from tests.integration.helpers import draft
from tests.similarity_cases import CASES
from tests.teams.conftest import GROUP, TeamsHarness
from tests.teams.conftest import OUTSIDER as TEAMS_OUTSIDER
from tests.teams.conftest import REPORTER as TEAMS_REPORTER

NB = Translator("nb")
EN = Translator("en")
WEB_REPORTER = Actor("web:reporter-chat", Role.REPORTER)
TRIAGER = Actor("slack:UGROUP", Role.TRIAGER)
DENIED_NB = "Bare Forbedringsgruppen kan gjøre dette."
NOT_FOUND_NB = "Fant ingen melding med referanse MELD-2026-9999."
TOO_LONG_NB = "For langt: høyst 200 tegn."

PLURAL = "Epikrisene fra kirurgisk kom aldri fram til fastlegen."
COMPOUND = "Epikrisesendingen stoppet opp etter oppgraderingen i helgen."
OTHER = "Henvisningen ble returnert uten begrunnelse."

# a referral returned without a reason: two more reports in the labelled set say the same
EARLIER = next(i for i, c in enumerate(CASES) if c.group == "ref_returned")
SAME = {i for i, c in enumerate(CASES) if c.group == "ref_returned"} - {EARLIER}
REASONS_NB = "samme underkategori, sted og retning; tekst ligner"
REASONS_EN = "same subcategory, place and direction; similar text"
# the first words of every reporter's text in the labelled set
TEXTS = [c.text[:40] for c in CASES]
# "MELD-2026-0017 · Mottatt · 87 % lik · samme …": reference, status, score, why
SIMILAR_LINE_NB = re.compile(r"^(MELD-\d{4}-\d{4}) · Mottatt · \d{1,3}\xa0% lik · \S")


def submit(ctx: services.Context, text: str) -> str:
    """A report sent from the web, dated the day before the context's today (the doors'
    clock is the real one, the `ctx` fixture's a fake)."""
    occurred = (ctx.today() - timedelta(days=1)).isoformat()
    return services.submit_report(ctx=ctx, actor=WEB_REPORTER, draft=draft(
        description=text, occurred_on=occurred, confirm_warnings=True)).reference


def audit_actions(ctx: services.Context) -> list[str]:
    with ctx.db.reading() as session:
        return list(session.scalars(select(m.AuditEvent.action).order_by(m.AuditEvent.id)))


def similar_lines(text: str) -> list[str]:
    """The report lines of a `lik` answer (after its heading)."""
    lines = text.splitlines()
    assert all(SIMILAR_LINE_NB.match(line) for line in lines[1:]), text
    return lines[1:]


# ---------------------------------------------------------------- the words


@pytest.mark.parametrize("text", ["søk epikrise", "sok epikrise", "SØK epikrise",
                                  "search epikrise", "Søk  epikrise  "])
def test_sok_sok_and_search_are_one_command(text: str) -> None:
    cmd = parse(text)
    assert (cmd.name, cmd.text, cmd.error, cmd.reference) == (
        Cmd.SEARCH, "epikrise", None, None)


def test_sok_keeps_every_word_and_drops_only_the_quotes() -> None:
    assert parse("søk epikrise kirurgisk").text == "epikrise kirurgisk"
    assert parse("søk «epikrise  kirurgisk» sent").text == "epikrise  kirurgisk sent"
    assert parse('søk "henvisning" ').text == "henvisning"
    # a lone reference is normalised, so the search finds it by reference
    assert parse("søk meld-2026-42").text == "MELD-2026-0042"
    assert parse("søk MELD-2026-42 epikrise").text == "MELD-2026-42 epikrise"


@pytest.mark.parametrize("text", ["søk", "sok   ", "search", 'søk ""'])
def test_sok_needs_words(text: str) -> None:
    cmd = parse(text)
    assert (cmd.name, cmd.error) == (Cmd.SEARCH, ParseError.MISSING_ARGUMENT)


@pytest.mark.parametrize("text", ["lik meld-2026-42", "LIK MELD-2026-0042",
                                  "similar MELD–2026–42"])
def test_lik_and_similar_take_a_reference(text: str) -> None:
    cmd = parse(text)
    assert (cmd.name, cmd.reference, cmd.error) == (Cmd.SIMILAR, "MELD-2026-0042", None)


def test_lik_refuses_what_is_not_one_reference() -> None:
    assert parse("lik").error == ParseError.MISSING_REFERENCE
    bad = parse("lik epikrise")
    assert (bad.name, bad.error, bad.bad) == (Cmd.SIMILAR, ParseError.BAD_REFERENCE, "epikrise")
    extra = parse("lik MELD-2026-0042 MELD-2026-0043")
    assert (extra.error, extra.bad) == (ParseError.UNKNOWN_WORD, "MELD-2026-0043")


def test_help_lists_sok_and_lik_in_both_languages() -> None:
    nb, en = help_text(NB), help_text(EN)
    assert "• søk ord …: " in nb and "• lik REF: " in nb
    assert "• søk words …: " in en and "• lik REF: " in en
    assert "• lik REF: saker som ligner denne (mulige duplikater), åpne først" in nb
    assert "• lik REF: reports like this one (possible duplicates), open ones first" in en


# ---------------------------------------------------------------- the runner


def run(ctx: services.Context, text: str, actor: Actor = TRIAGER,
        tr: Translator = NB) -> CommandResult:
    return run_command(ctx=ctx, actor=actor, text=text, tr=tr)


def test_run_search_lists_like_liste_best_match_first(ctx: services.Context) -> None:
    plural, compound, other = submit(ctx, PLURAL), submit(ctx, COMPOUND), submit(ctx, OTHER)
    result = run(ctx, "søk epikrise")
    lines = result.text.splitlines()
    assert result.ok
    assert lines[0] == "Meldinger som passer til «epikrise», beste treff først:"
    assert {line.split(" · ")[0] for line in lines[1:]} == {plural, compound}
    assert other not in result.text
    # the same fields as a `liste` line: reference, status, kind, category, date
    listed = {line.split(" · ")[0]: line for line in run(ctx, "liste").text.splitlines()}
    assert all(line == listed[line.split(" · ")[0]] for line in lines[1:])
    assert "kirurgisk" not in result.text and "Epikrisesendingen" not in result.text
    english = run(ctx, "search henvisninger", tr=EN)
    assert english.text.splitlines()[1].startswith(f"{other} · Received · Deviation · ")
    assert audit_actions(ctx).count("search") == 2


def test_run_search_shows_ten_and_says_there_are_more(ctx: services.Context) -> None:
    for _ in range(11):
        submit(ctx, PLURAL)
    lines = run(ctx, "søk epikrise").text.splitlines()
    assert len(lines) == 12  # heading, ten reports, the hint
    assert lines[-1] == "… og flere. Legg til et ord for å snevre inn søket."


def test_run_search_with_no_hits_and_refused_queries(ctx: services.Context) -> None:
    submit(ctx, PLURAL)
    assert run(ctx, "søk ortopedi") == CommandResult("Ingen treff på «ortopedi».")
    assert run(ctx, "search ortopedi", tr=EN).text == "No reports match “ortopedi”."
    too_long = run(ctx, "søk " + "x" * 201)
    assert (too_long.ok, too_long.text) == (False, TOO_LONG_NB)
    assert run(ctx, "søk " + "x" * 201, tr=EN).text == "Too long: at most 200 characters."
    missing = run(ctx, "søk")
    assert (missing.ok, missing.text) == (False, "Noe mangler.\nBruk: søk ord …")
    # the two searches made; the refused ones were never made
    assert audit_actions(ctx).count("search") == 2


def test_run_similar_gives_score_status_and_why(ctx: services.Context,
                                                labelled: list[str]) -> None:
    reference = labelled[EARLIER]
    result = run(ctx, f"lik {reference.lower()}")
    assert (result.ok, result.reference) == (True, reference)
    lines = similar_lines(result.text)
    assert result.text.splitlines()[0] == f"Saker som ligner {reference}, åpne først:"
    assert 2 <= len(lines) <= 5
    assert {SIMILAR_LINE_NB.match(line).group(1) for line in lines[:2]} == {  # type: ignore[union-attr]
        labelled[i] for i in SAME}
    assert lines[0].endswith(" · " + REASONS_NB)
    assert reference not in "\n".join(lines)
    assert not any(text in result.text for text in TEXTS)
    english = run(ctx, f"similar {reference}", tr=EN).text.splitlines()
    assert english[0] == f"Reports like {reference}, open ones first:"
    assert re.search(r" · Received · \d{1,3}% alike · ", english[1]), english[1]
    assert english[1].endswith(" · " + REASONS_EN)
    assert audit_actions(ctx).count("similar") == 2


def test_run_similar_says_when_there_is_nothing_or_no_report(ctx: services.Context) -> None:
    reference = submit(ctx, PLURAL)
    assert run(ctx, f"lik {reference}") == CommandResult("Ingen lignende saker.",
                                                         reference=reference)
    missing = run(ctx, "lik MELD-2026-9999")
    assert (missing.ok, missing.text) == (False, NOT_FOUND_NB)
    bad = run(ctx, "lik epikrise")
    assert bad.ok is False and bad.text.startswith("«epikrise» er ikke en referanse.")


def test_a_reporter_can_use_neither(ctx: services.Context) -> None:
    reference = submit(ctx, PLURAL)
    for text in ("søk epikrise", f"lik {reference}"):
        result = run(ctx, text, actor=WEB_REPORTER)
        assert (result.ok, result.text) == (False, DENIED_NB)
    assert reference not in run(ctx, "søk epikrise", actor=WEB_REPORTER).text
    assert not {"search", "similar"} & set(audit_actions(ctx))


def test_tittel_sets_checks_and_clears_the_public_title(ctx: services.Context) -> None:
    reference = submit(ctx, PLURAL)
    result = run(ctx, f"tittel {reference} Epikrise mangler etter utskrivning")
    assert result.ok and "«Epikrise mangler etter utskrivning»" in result.text
    assert [s.reference for s in services.suggestions(
        ctx=ctx, category="discharge_summary", text="epikrise")] == [reference]
    refused = run(ctx, f"tittel {reference} Ring 41 23 45 67 om dette")
    assert not refused.ok  # other reporters read it: a phone number refuses
    assert run(ctx, f"tittel {reference} -").ok
    assert services.suggestions(ctx=ctx, category="discharge_summary", text="epikrise") == ()
    denied = run(ctx, f"tittel {reference} Noe", actor=WEB_REPORTER)
    assert (denied.ok, denied.text) == (False, DENIED_NB)
    assert not run(ctx, f"tittel {reference}").ok  # nothing to set


# ---------------------------------------------------------------- Slack


def said(r: Any) -> str:
    """What a slash command's ack says (plain text)."""
    assert r.status_code == 200, r.text
    return str(r.text)


def test_slack_triage_sok_lists_a_matching_report_and_not_the_others(
        slack: SlackDoor) -> None:
    plural, compound, other = (submit(slack.ctx, PLURAL), submit(slack.ctx, COMPOUND),
                               submit(slack.ctx, OTHER))
    answer = said(slack.command("/triage", "søk epikrise"))
    lines = answer.splitlines()
    assert lines[0] == "Meldinger som passer til «epikrise», beste treff først:"
    assert {line.split(" · ")[0] for line in lines[1:]} == {plural, compound}
    assert other not in answer
    assert all(" · Mottatt · Avvik · " in line for line in lines[1:])
    assert "kirurgisk" not in answer and "Epikrisesendingen" not in answer
    assert said(slack.command("/triage", "sok epikrise")) == answer
    assert other in said(slack.command("/triage", "search henvisning"))
    assert said(slack.command("/triage", "søk ortopedi")) == "Ingen treff på «ortopedi»."
    assert said(slack.command("/triage", "søk " + "x" * 201)) == TOO_LONG_NB
    assert [e.actor_id for e in slack.audit("search")] == [f"slack:{GROUP_USER}"] * 4


def test_slack_triage_lik_shows_the_reasons(slack: SlackDoor, labelled: list[str]) -> None:
    reference = labelled[EARLIER]
    answer = said(slack.command("/triage", f"lik {reference}"))
    assert answer.splitlines()[0] == f"Saker som ligner {reference}, åpne først:"
    lines = similar_lines(answer)
    assert 2 <= len(lines) <= 5
    assert {line.split(" · ")[0] for line in lines[:2]} == {labelled[i] for i in SAME}
    assert REASONS_NB in lines[0]
    assert not any(text in answer for text in TEXTS)
    assert said(slack.command("/triage", f"similar {reference.lower()}")) == answer
    assert [e.details for e in slack.audit("similar")] == [{"count": len(lines)}] * 2


def test_slack_triage_lik_of_an_unknown_reference(slack: SlackDoor) -> None:
    assert said(slack.command("/triage", "lik MELD-2026-9999")) == NOT_FOUND_NB
    assert said(slack.command("/triage", "lik")).startswith(
        "Skriv referansen til meldingen, for eksempel MELD-2026-0042.\nBruk: lik REF")


def test_slack_triage_sok_and_lik_are_refused_to_reporters(slack: SlackDoor) -> None:
    reference = slack.seed_report(user=REPORTER)
    for user in (REPORTER, OUTSIDER):
        for text in ("søk epikrise", f"lik {reference}"):
            assert said(slack.command("/triage", text, user=user)) == DENIED_NB
    assert len(slack.audit("denied")) == 4
    assert slack.audit("search") == [] and slack.audit("similar") == []


def test_slack_triage_help_lists_both(slack: SlackDoor) -> None:
    answer = said(slack.command("/triage", "hjelp"))
    assert "• søk ord …: " in answer and "• lik REF: " in answer


# ---------------------------------------------------------------- Teams




def teams_says(h: TeamsHarness, text: str, user: str = GROUP) -> str:
    """What Meld answers, in the channel's thread, to `@Meld text`."""
    before = len(h.ms.sent)
    r = h.message(f"<at>Meld</at> {text}", user=user, conversation="channel")
    assert r.status_code == 200, r.text
    h.wait_replies()
    sent = h.ms.wait_sent(before + 1)[before:]
    assert len(sent) == 1, sent
    assert sent[0].body["textFormat"] == "plain"
    return str(sent[0].body["text"])


def test_teams_sok_lists_a_matching_report_and_not_the_others(teams: TeamsHarness) -> None:
    plural, compound, other = (submit(teams.ctx, PLURAL), submit(teams.ctx, COMPOUND),
                               submit(teams.ctx, OTHER))
    answer = teams_says(teams, "søk epikrise")
    lines = answer.splitlines()
    assert lines[0] == "Meldinger som passer til «epikrise», beste treff først:"
    assert {line.split(" · ")[0] for line in lines[1:]} == {plural, compound}
    assert other not in answer
    assert "kirurgisk" not in answer and "Epikrisesendingen" not in answer
    assert teams_says(teams, "search ortopedi") == "Ingen treff på «ortopedi»."
    assert [e.actor_id for e in teams.audit("search")] == [f"teams:{GROUP}"] * 2


def test_teams_lik_shows_the_reasons(teams: TeamsHarness, labelled: list[str]) -> None:
    reference = labelled[EARLIER]
    answer = teams_says(teams, f"lik {reference}")
    assert answer.splitlines()[0] == f"Saker som ligner {reference}, åpne først:"
    lines = similar_lines(answer)
    assert {line.split(" · ")[0] for line in lines[:2]} == {labelled[i] for i in SAME}
    assert REASONS_NB in lines[0]
    assert not any(text in answer for text in TEXTS)
    assert teams_says(teams, "lik MELD-2026-9999") == NOT_FOUND_NB


def test_teams_sok_and_lik_are_refused_outside_the_group(teams: TeamsHarness) -> None:
    reference = teams.seed_report()
    for user in (TEAMS_REPORTER, TEAMS_OUTSIDER):
        for text in ("søk epikrise", f"lik {reference}"):
            answer = teams_says(teams, text, user=user)
            assert answer == DENIED_NB and reference not in answer
    assert len(teams.audit("denied")) == 4
    assert teams.audit("search") == [] and teams.audit("similar") == []
