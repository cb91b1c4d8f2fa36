"""The triage command language end to end against the real services (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging

import pytest
from faker import Faker
from sqlalchemy import func, select

from bot.chat.commands import CommandResult, run_command
from bot.chat.parsing import help_text
from intake import services
from intake.domain.model import Actor, Role
from intake.i18n import Translator
from storage import models as m
from tests.integration.helpers import draft

REPORTER = Actor("slack:U123", Role.REPORTER)
OTHER = Actor("teams:aad-456", Role.REPORTER)
GROUP = Actor("slack:UGROUP", Role.TRIAGER)
NB = Translator("nb")
EN = Translator("en")
GROUP_ONLY = "Bare Forbedringsgruppen kan gjøre dette."


def run(ctx: services.Context, text: str, actor: Actor = GROUP,
        tr: Translator = NB, **kwargs) -> CommandResult:
    return run_command(ctx=ctx, actor=actor, text=text, tr=tr, **kwargs)


def submit(ctx: services.Context, actor: Actor = REPORTER, **overrides) -> str:
    return services.submit_report(ctx=ctx, actor=actor, draft=draft(**overrides)).reference


def report_row(ctx: services.Context, reference: str) -> m.Report:
    with ctx.db.reading() as s:
        return s.scalars(select(m.Report).where(m.Report.reference == reference)).one()


def audit_actions(ctx: services.Context) -> list[str]:
    with ctx.db.reading() as s:
        return list(s.scalars(select(m.AuditEvent.action).order_by(m.AuditEvent.id)))


def messages(ctx: services.Context) -> list[tuple[str, str, str | None]]:
    with ctx.db.reading() as s:
        rows = s.scalars(select(m.Message).order_by(m.Message.id)).all()
        return [(r.direction, r.purpose, r.body) for r in rows]


def outbox_events(ctx: services.Context, after: int = 0) -> list[tuple[str, dict]]:
    """Outbox rows with id > after (submit may queue more than the receipt)."""
    with ctx.db.reading() as s:
        rows = s.scalars(select(m.OutboxMessage).where(m.OutboxMessage.id > after)
                         .order_by(m.OutboxMessage.id)).all()
        return [(r.event, dict(r.payload)) for r in rows]


def last_outbox_id(ctx: services.Context) -> int:
    with ctx.db.reading() as s:
        return s.scalar(select(func.max(m.OutboxMessage.id))) or 0


def count(ctx: services.Context, model: type) -> int:
    with ctx.db.reading() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


# ---------------------------------------------------------------- help and unknown input


@pytest.mark.parametrize("text", ["", "hjelp", "  HJELP  "])
def test_help(ctx: services.Context, text: str) -> None:
    result = run(ctx, text)
    assert result.ok
    assert result.text == help_text(NB)
    assert result.text.startswith("Kommandoer for Forbedringsgruppen")
    assert "svar REF tekst" in result.text
    assert audit_actions(ctx) == []


def test_unknown_command_names_the_word_and_shows_help(ctx: services.Context) -> None:
    ref = submit(ctx)
    result = run(ctx, f"slett {ref}")
    assert not result.ok
    first, _, rest = result.text.partition("\n\n")
    assert first == "Ukjent kommando «slett»."
    assert rest == help_text(NB)
    assert audit_actions(ctx) == ["submitted"]


def test_missing_arguments_get_the_usage_line(ctx: services.Context) -> None:
    ref = submit(ctx)
    result = run(ctx, f"svar {ref}")
    assert (result.ok, result.reference) == (False, ref)
    assert result.text == "Noe mangler.\nBruk: svar REF tekst"
    result = run(ctx, "vis")
    assert result.text == ("Skriv referansen til meldingen, for eksempel MELD-2026-0042.\n"
                           "Bruk: vis REF")
    result = run(ctx, "status meld-2026 tiltak")
    assert result.text.startswith("«meld-2026» er ikke en referanse.")
    result = run(ctx, f"status {ref} ferdig")
    assert result.text == ("Jeg forstod ikke «ferdig».\n"
                           "Bruk: status REF vurdering|tiltak|avvist [melding til melderen]")
    assert audit_actions(ctx) == ["submitted"]


def test_english_translator_answers_in_english(ctx: services.Context) -> None:
    ref = submit(ctx)
    assert run(ctx, f"svar {ref}", tr=EN).text == "Something is missing.\nUsage: svar REF text"
    result = run(ctx, f"svar {ref} Thanks, we are on it.", tr=EN)
    assert result.text == (f"Your answer on {ref} is sent to the reporter.\n"
                           "Status: Being assessed")


# ---------------------------------------------------------------- liste


def test_liste_lines_filters_and_audit(ctx: services.Context) -> None:
    assert run(ctx, "liste").text == "Ingen meldinger."
    first = submit(ctx)
    second = submit(ctx, kind="suggestion", category="referral", subcategory=None)
    services.move_status(ctx=ctx, actor=GROUP, reference=second, status="triage")

    result = run(ctx, "liste")
    assert result.ok
    assert result.text.splitlines() == [
        f"{second} · Under vurdering · Forbedringsforslag · Henvisning · 02.03.2026",
        f"{first} · Mottatt · Avvik · Epikrise · 02.03.2026",
    ]
    assert result.page is not None
    assert [v.reference for v in result.page.items] == [second, first]

    assert run(ctx, "liste mottatt").text.splitlines()[0].startswith(first)
    assert run(ctx, "liste referral").text.splitlines()[0].startswith(second)
    assert run(ctx, "liste Epikrise").text.startswith(first)
    assert run(ctx, "liste referral under-vurdering").text.startswith(second)
    assert run(ctx, "liste forslag").text.startswith(second)
    assert run(ctx, "liste referral mottatt").text == "Ingen meldinger."
    assert audit_actions(ctx).count("list") == 8


def test_liste_unknown_filter_word(ctx: services.Context) -> None:
    result = run(ctx, "liste blåbær")
    assert not result.ok
    assert result.text == ("Jeg forstod ikke «blåbær»: oppgi en status, en type eller en "
                           "kategori.\nBruk: liste [status] [type] [kategori] [ulest]")
    assert "list" not in audit_actions(ctx)


def test_liste_shows_twenty_lines_and_how_many_more(ctx: services.Context) -> None:
    for _ in range(23):
        submit(ctx)
    lines = run(ctx, "liste").text.splitlines()
    assert len(lines) == 21
    assert lines[0].startswith("MELD-2026-0023 ")
    assert lines[19].startswith("MELD-2026-0004 ")
    assert lines[20] == "… og 3 til. Snevre inn listen med status, type eller kategori."


def test_liste_shows_the_open_uncategorized_reports_first(ctx: services.Context) -> None:
    """Reports sent with the text alone wait for the group to set the category: `liste`
    shows the open ones first, in the list's order, however many others came after;
    a closed one keeps its place by date."""
    def text_alone(text: str) -> str:
        return services.submit_report(ctx=ctx, actor=REPORTER, draft=services.ReportDraft(
            description=text, no_patient_identifiers=True)).reference

    waiting = text_alone("Hei, dette er bare en prøve.")
    suggested = text_alone("Epikrisen mangler fortsatt, pasienten ble utskrevet i går.")
    closed = text_alone("Noe gikk galt i går.")
    services.move_status(ctx=ctx, actor=GROUP, reference=closed, status="rejected")
    services.close(ctx=ctx, actor=GROUP, reference=closed, learning_point="Ingen.",
                   measure="Ingen.")
    others = [submit(ctx) for _ in range(20)]
    lines = run(ctx, "liste").text.splitlines()
    assert lines[:2] == [
        f"{suggested} · Mottatt · Avvik · Ikke kategorisert · 02.03.2026",
        f"{waiting} · Mottatt · Avvik · Ikke kategorisert · 02.03.2026"]
    assert [line.split(" · ")[0] for line in lines[2:20]] == list(reversed(others))[:18]
    assert closed not in "\n".join(lines)  # the 23rd: under "… og 3 til"
    # a filter keeps them first
    assert run(ctx, "liste mottatt").text.splitlines()[:2] == lines[:2]
    assert run(ctx, "liste avvik").text.splitlines()[0].startswith(suggested)


# ---------------------------------------------------------------- vis


def test_vis_shows_facts_description_dialog_and_is_audited(ctx: services.Context) -> None:
    ref = submit(ctx, place_text="Akuttmottaket")
    services.reply(ctx=ctx, actor=GROUP, reference=ref, text="Takk, vi ser på det.")
    services.add_note(ctx=ctx, actor=GROUP, reference=ref, text="Sjekk med klinikken.")
    result = run(ctx, f"vis {ref.lower()}")
    assert result.ok
    assert result.reference == ref
    assert result.report is not None and result.report.reference == ref
    lines = result.text.splitlines()
    assert lines[0] == ref
    for expected in ("Status: Under vurdering", "Type: Avvik", "Kategori: Epikrise / ",
                     "Alvorlighet (meldt): Mindre", "Alvorlighet (vurdert): ikke vurdert ennå",
                     "Når: 27. februar 2026", "Melder: slack:U123", "Ansvarlig: ingen",
                     "Retning: Fastlege → Sykehus",
                     "Epikrise manglet ved utskriving; fastlegen fikk ingen beskjed.",
                     "Samtale med Forbedringsgruppen:"):
        assert any(line.startswith(expected) for line in lines), expected
    assert any(line.startswith("Hvor: ") and line.endswith("Akuttmottaket") for line in lines)
    assert any(line.endswith("Forbedringsgruppen, slack:UGROUP: Takk, vi ser på det.")
               for line in lines)
    assert any("(internt notat), slack:UGROUP: Sjekk med klinikken." in line for line in lines)
    assert audit_actions(ctx)[-1] == "read"


def test_vis_for_reporters_and_missing_reports(ctx: services.Context) -> None:
    ref = submit(ctx)
    services.add_note(ctx=ctx, actor=GROUP, reference=ref, text="Bare for gruppen.")
    own = run(ctx, f"vis {ref}", actor=REPORTER)
    assert own.ok
    assert "Bare for gruppen." not in own.text
    assert "Ingen meldinger ennå." in own.text
    assert own.text.startswith(f"{ref}\nStatus: Mottatt\n")
    for hidden in ("Ansvarlig:", "Melder:", "Alvorlighet (vurdert):"):
        assert hidden not in own.text
    denied = run(ctx, f"vis {ref}", actor=OTHER)
    assert (denied.ok, denied.text, denied.report) == (
        False, "Du kan bare se dine egne meldinger.", None)
    missing = run(ctx, "vis MELD-2026-0099")
    assert (missing.ok, missing.text) == (False,
                                          "Fant ingen melding med referanse MELD-2026-0099.")


# ---------------------------------------------------------------- vurder


def test_vurder_without_arguments_opens_a_form_and_calls_nothing(
        ctx: services.Context) -> None:
    ref = submit(ctx)
    result = run(ctx, f"vurder {ref}")
    assert (result.ok, result.dialog, result.reference) == (True, "assess", ref)
    assert result.text == f"Vurderingsskjemaet for {ref} åpnes."
    assert audit_actions(ctx) == ["submitted"]


def test_vurder_with_arguments_assesses(ctx: services.Context) -> None:
    ref = submit(ctx)
    result = run(ctx, f'vurder {ref} alvorlighet=moderate kategori=referral '
                      f'underkategori=unanswered retningslinje="Delavtale 4: svar på henvisning"')
    assert result.ok, result.text
    assert result.dialog is None
    assert result.text.splitlines() == [
        f"Vurderingen av {ref} er lagret.",
        "Status: Under vurdering",
        "Alvorlighet (vurdert): Moderat skade",
        "Kategori: Henvisning / " + ctx.taxonomy.subcategory_label("referral", "unanswered",
                                                                   "nb"),
        "Brudd på retningslinje: Delavtale 4: svar på henvisning",
    ]
    row = report_row(ctx, ref)
    assert (row.status, row.assessed_severity, row.category_id, row.subcategory_id) == (
        "triage", "moderate", "referral", "unanswered")
    assert (row.agreement_reference, row.guideline_breached) == (
        "Delavtale 4: svar på henvisning", True)
    assert audit_actions(ctx)[-2:] == ["status_changed", "assessed"]

    again = run(ctx, f"vurder {ref} alvorlighet=betydelig kategori=Legemidler brudd=nei")
    assert again.ok, again.text
    row = report_row(ctx, ref)
    assert (row.assessed_severity, row.category_id, row.guideline_breached) == (
        "significant", "medication", False)


def test_vurder_unknown_category_is_refused_by_the_service(ctx: services.Context) -> None:
    ref = submit(ctx)
    result = run(ctx, f"vurder {ref} kategori=blåbær")
    assert (result.ok, result.text) == (False, "Ukjent kategori. Velg en fra listen.")
    assert report_row(ctx, ref).category_id == "discharge_summary"


# ---------------------------------------------------------------- tildel


def test_tildel_with_a_slack_mention_mapping(ctx: services.Context) -> None:
    ref = submit(ctx)
    seen: list[str] = []

    def slack_assignee(raw: str) -> str:
        seen.append(raw)
        return "slack:" + raw.strip("<@>").split("|")[0]

    result = run(ctx, f"tildel {ref} <@U123ABC|kari>", assignee_of=slack_assignee)
    assert result.ok
    assert seen == ["<@U123ABC|kari>"]
    assert result.text == f"{ref} er tildelt <@U123ABC|kari>.\nStatus: Mottatt"
    assert report_row(ctx, ref).assignee == "slack:U123ABC"
    assert audit_actions(ctx)[-1] == "assigned"


def test_tildel_plain_names_and_unassign(ctx: services.Context) -> None:
    ref = submit(ctx)
    assert run(ctx, f"tildel {ref} @kari").text.startswith(f"{ref} er tildelt kari.")
    assert report_row(ctx, ref).assignee == "kari"
    assert run(ctx, f'tildel {ref} "Ola Nordmann"').ok
    assert report_row(ctx, ref).assignee == "Ola Nordmann"
    result = run(ctx, f"tildel {ref} -")
    assert result.text.startswith(f"{ref} er ikke lenger tildelt noen.")
    assert report_row(ctx, ref).assignee is None


# ---------------------------------------------------------------- status


def test_status_in_norwegian_words_with_a_message(ctx: services.Context) -> None:
    ref = submit(ctx)
    before = last_outbox_id(ctx)
    result = run(ctx, f"status {ref} tiltak  Vi har tatt saken opp med klinikken.")
    assert result.ok, result.text
    assert result.text == f"{ref} har fått ny status. Melderen får beskjed.\nStatus: Tiltak pågår"
    assert report_row(ctx, ref).status == "in_progress"
    assert messages(ctx) == [("group", "status", "Vi har tatt saken opp med klinikken.")]
    events = [(e, p.get("status")) for e, p in outbox_events(ctx, before)]
    assert events == [("status_changed", "triage"), ("status_changed", "in_progress")]


def test_status_under_vurdering_and_avvist(ctx: services.Context) -> None:
    ref = submit(ctx)
    assert run(ctx, f"status {ref} under vurdering").ok
    assert report_row(ctx, ref).status == "triage"
    assert run(ctx, f"status {ref} avvist Dette hører hjemme i EQS.").ok
    assert report_row(ctx, ref).status == "rejected"


def test_invalid_transitions_are_refused_in_words(ctx: services.Context) -> None:
    ref = submit(ctx)
    assert run(ctx, f"status {ref} tiltak").ok
    result = run(ctx, f"status {ref} avvist")
    assert (result.ok, result.reference) == (False, ref)
    assert result.text == ("En melding med status «Tiltak pågår» kan ikke flyttes til "
                           "«Avvist (utenfor mandat)».")
    result = run(ctx, f"status {ref} lukket")
    assert result.text == "Bruk egen handling for «Lukket»: den trenger flere opplysninger."
    assert report_row(ctx, ref).status == "in_progress"


# ---------------------------------------------------------------- dialog with the reporter


def test_svar_sends_the_text_verbatim(ctx: services.Context) -> None:
    ref = submit(ctx)
    text = "Takk!  Vi har sendt «dette» videre;\nse rutine 4.2."
    result = run(ctx, f"svar {ref} {text}")
    assert result.ok
    assert result.text == f"Svaret ditt på {ref} er sendt til melderen.\nStatus: Under vurdering"
    assert messages(ctx) == [("group", "reply", text)]
    assert outbox_events(ctx)[-1][0] == "reply"
    assert audit_actions(ctx)[-1] == "replied"


def test_svar_refuses_a_national_identity_number(ctx: services.Context) -> None:
    ref = submit(ctx)
    ssn = Faker("no_NO").ssn()
    before = last_outbox_id(ctx)
    result = run(ctx, f"svar {ref} Gjelder pasient {ssn}, ring meg.")
    assert not result.ok
    assert result.text.startswith("Teksten ser ut til å inneholde et fødselsnummer")
    assert messages(ctx) == []
    assert outbox_events(ctx, before) == []
    assert audit_actions(ctx) == ["submitted"]


@pytest.mark.parametrize("keyword", ["trenger-info", "trenger info", "Trenger Info"])
def test_trenger_info_asks_and_waits(ctx: services.Context, keyword: str) -> None:
    ref = submit(ctx)
    result = run(ctx, f"{keyword} {ref} Hvilken avdeling gjelder det?")
    assert result.ok, result.text
    assert result.text.endswith("Status: Trenger mer info")
    assert report_row(ctx, ref).status == "needs_info"
    assert messages(ctx) == [("group", "question", "Hvilken avdeling gjelder det?")]


def test_notat_is_internal(ctx: services.Context) -> None:
    ref = submit(ctx)
    before = last_outbox_id(ctx)
    result = run(ctx, f"notat {ref} Ring overlegen på mandag.")
    assert result.ok
    assert result.text.startswith(f"Internt notat lagt til på {ref}. Melderen ser det ikke.")
    assert messages(ctx) == [("internal", "note", "Ring overlegen på mandag.")]
    assert report_row(ctx, ref).status == "received"
    assert outbox_events(ctx, before) == []
    own = services.get_report(ctx=ctx, actor=REPORTER, reference=ref)
    assert own.messages == ()


# ---------------------------------------------------------------- videresend, duplikat


def test_videresend_with_external_reference(ctx: services.Context) -> None:
    ref = submit(ctx)
    result = run(ctx, f"videresend {ref} eqs 2026/1234")
    assert result.ok, result.text
    assert result.text.startswith(f"{ref} er videresendt til ")
    assert "Deres referanse: 2026/1234." in result.text
    row = report_row(ctx, ref)
    assert (row.status, row.redirect_target, row.redirect_reference) == (
        "redirected", "eqs", "2026/1234")
    event, payload = outbox_events(ctx)[-1]
    assert (event, payload["target"], payload["external_reference"]) == (
        "status_changed", "eqs", "2026/1234")


def test_videresend_annet_without_reference(ctx: services.Context) -> None:
    ref = submit(ctx)
    assert run(ctx, f"videresend {ref} annet").ok
    row = report_row(ctx, ref)
    assert (row.redirect_target, row.redirect_reference) == ("other", None)


def test_duplikat(ctx: services.Context) -> None:
    original = submit(ctx)
    ref = submit(ctx, actor=OTHER)
    result = run(ctx, f"duplikat {ref} {original.lower()}")
    assert result.ok
    assert result.text.startswith(f"{ref} er markert som duplikat av {original}.")
    assert report_row(ctx, ref).status == "duplicate"
    itself = run(ctx, f"duplikat {original} {original}")
    assert (itself.ok, itself.text) == (False, "En melding kan ikke være duplikat av seg selv.")
    missing = run(ctx, f"duplikat {original} MELD-2026-0099")
    assert missing.text == "Fant ingen melding med referanse MELD-2026-0099."


# ---------------------------------------------------------------- lukk, gjenåpne, +1


def test_lukk_opens_a_form_or_closes_directly_and_gjenapne(ctx: services.Context) -> None:
    ref = submit(ctx)
    form = run(ctx, f"lukk {ref}")
    assert (form.ok, form.dialog, form.reference) == (True, "close", ref)
    assert report_row(ctx, ref).status == "received"

    early = run(ctx, f'lukk {ref} læring="x" tiltak="y"')
    assert early.text == "En melding med status «Mottatt» kan ikke flyttes til «Lukket»."

    run(ctx, f"status {ref} tiltak")
    result = run(ctx, f"lukk {ref} læring=\"Epikrisen ble ikke sendt før pasienten dro.\" "
                      f"tiltak=“Sjekkliste for utskriving er tatt i bruk”")
    assert result.ok, result.text
    assert result.text == f"{ref} er lukket.\nStatus: Lukket"
    row = report_row(ctx, ref)
    assert (row.status, row.learning_point, row.measure) == (
        "closed", "Epikrisen ble ikke sendt før pasienten dro.",
        "Sjekkliste for utskriving er tatt i bruk")

    one_only = run(ctx, f'lukk {ref} læring="bare denne"')
    assert one_only.text == 'Noe mangler.\nBruk: lukk REF [læring="..." tiltak="..."]'

    reopened = run(ctx, f"gjenåpne {ref}")
    assert reopened.text == f"{ref} er gjenåpnet og blir vurdert på nytt.\nStatus: Under vurdering"
    assert report_row(ctx, ref).status == "triage"
    again = run(ctx, f"gjenapne {ref}")
    assert (again.ok, again.text) == (
        False, "En melding med status «Under vurdering» kan ikke flyttes til «Under vurdering».")


def test_plus_one_once_per_person(ctx: services.Context) -> None:
    ref = submit(ctx)
    result = run(ctx, f"+1 {ref}", actor=OTHER)
    assert (result.ok, result.text) == (True, f"+1 registrert på {ref} (1 i alt).")
    assert run(ctx, f"+1 {ref}").text == f"+1 registrert på {ref} (2 i alt)."
    again = run(ctx, f"+1 {ref}", actor=OTHER)
    assert (again.ok, again.text) == (False, "Du har allerede sagt at dette har skjedd deg også.")
    assert count(ctx, m.PlusOne) == 2


# ---------------------------------------------------------------- roles and logging


@pytest.mark.parametrize(
    "command",
    [
        "liste",
        "vurder {ref} alvorlighet=minor",
        "tildel {ref} @kari",
        "status {ref} vurdering",
        "svar {ref} Hei",
        "trenger-info {ref} Hva?",
        "notat {ref} Internt",
        "videresend {ref} eqs",
        "duplikat {ref} {other}",
        'lukk {ref} læring="a" tiltak="b"',
        "gjenåpne {ref}",
    ],
)
def test_reporters_are_refused_by_the_services(ctx: services.Context, command: str) -> None:
    ref = submit(ctx)
    other = submit(ctx)
    before = (audit_actions(ctx), messages(ctx), count(ctx, m.OutboxMessage))
    result = run(ctx, command.format(ref=ref, other=other), actor=REPORTER)
    assert (result.ok, result.text, result.dialog) == (False, GROUP_ONLY, None)
    assert (audit_actions(ctx), messages(ctx), count(ctx, m.OutboxMessage)) == before
    row = report_row(ctx, ref)
    assert (row.status, row.assignee, row.assessed_severity) == ("received", None, None)


def test_command_text_is_never_logged(ctx: services.Context,
                                      caplog: pytest.LogCaptureFixture) -> None:
    ref = submit(ctx)
    secret = "Sykepleier Hansen glemte epikrisen"
    with caplog.at_level(logging.DEBUG):
        run(ctx, f"svar {ref} {secret}")
        run(ctx, f"notat {ref} {secret}")
        run(ctx, f"{secret}")
        run(ctx, f"vis {ref}")
    assert all(secret not in record.getMessage() for record in caplog.records)


# ---------------------------------------------------------------- issue 12


def test_liste_marks_an_unread_answer_and_filters_on_it(ctx: services.Context) -> None:
    quiet = submit(ctx)
    answered = submit(ctx)
    services.request_info(ctx=ctx, actor=GROUP, reference=answered, question="Hvor?")
    services.reporter_answer(ctx=ctx, actor=REPORTER, reference=answered, text="Her.")
    lines = {line.split(" · ")[0]: line for line in run(ctx, "liste").text.splitlines()}
    assert lines[answered].endswith(" · ✉ ulest svar fra melderen")
    assert "ulest" not in lines[quiet]
    assert run(ctx, "liste ulest").text.splitlines() == [lines[answered]]
    assert run(ctx, "liste unread", tr=EN).text.endswith("✉ unread answer from the reporter")
    assert run(ctx, "liste ulest under-vurdering").text.startswith(answered)
    assert run(ctx, f"vis {answered}").ok  # read: the mark is gone
    assert run(ctx, "liste ulest").text == "Ingen meldinger."
    assert "ulest" in help_text(NB)


def test_vurder_refuses_another_categorys_subcategory_in_words(ctx: services.Context) -> None:
    ref = submit(ctx)
    result = run(ctx, f"vurder {ref} underkategori=med_list")
    assert not result.ok
    assert result.text.startswith("Underkategori: «Legemiddelliste» hører til kategorien "
                                  "«Legemidler», ikke til den valgte «Epikrise».")
    assert report_row(ctx, ref).subcategory_id == "missing"
    assert run(ctx, f"vurder {ref} underkategori=late").ok
    assert report_row(ctx, ref).subcategory_id == "late"
