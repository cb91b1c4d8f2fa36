"""The intake service on SQLite and PostgreSQL: rules, workflow, roles, audit and outbox rows."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pytest
from faker import Faker
from sqlalchemy import func, select

from intake import services
from intake.domain.model import (
    Actor,
    Conflict,
    DomainError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    Role,
    Status,
    ValidationFailed,
)
from storage import models as m
from tests.integration.helpers import draft

REPORTER = Actor("slack:U123", Role.REPORTER)
OTHER = Actor("teams:aad-456", Role.REPORTER)
GROUP = Actor("slack:UGROUP", Role.TRIAGER)


def count(ctx: services.Context, model: type) -> int:
    with ctx.db.reading() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def codes(err: ValidationFailed) -> dict[str, str]:
    return {e.field: e.code for e in err.errors}


def outbox(ctx: services.Context, channel: str | None = None) -> list[tuple[str, str, str, dict]]:
    """Outbox rows for reporters (or for one channel, e.g. "group")."""
    with ctx.db.reading() as s:
        stmt = select(m.OutboxMessage).order_by(m.OutboxMessage.id)
        if channel is None:
            stmt = stmt.where(m.OutboxMessage.channel != services.GROUP_CHANNEL)
        else:
            stmt = stmt.where(m.OutboxMessage.channel == channel)
        rows = s.scalars(stmt).all()
        return [(r.channel, r.recipient, r.event, dict(r.payload)) for r in rows]


# ---------------------------------------------------------------- submit


def test_submit_stores_report_audit_and_receipt_notice(ctx: services.Context) -> None:
    receipt = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft())
    assert receipt.reference == "MELD-2026-0001"
    assert receipt.status == Status.RECEIVED
    assert receipt.created
    assert receipt.feedback_by == date(2026, 3, 16)  # 14 days after 2 March
    assert not receipt.formal_guidance
    view = services.get_report(ctx=ctx, actor=REPORTER, reference=receipt.reference)
    assert view.direction == "gp->hospital"
    assert view.channel == "slack"
    with ctx.db.reading() as s:
        events = s.scalars(select(m.AuditEvent.action)).all()
    assert events == ["submitted"]
    [(channel, recipient, event, payload)] = outbox(ctx)
    # the receipt names what it was filed under, and Meld's best guesses to change to
    alternatives = payload.pop("alternatives")
    assert alternatives and alternatives[0] == "discharge_summary"
    assert (channel, recipient, event, payload) == (
        "slack", "slack:U123", "receipt",
        {"formal_guidance": False, "reference": "MELD-2026-0001", "feedback_by": "2026-03-16",
         "category": "discharge_summary", "subcategory": "missing",
         "category_source": "reporter"})
    # the group's notice carries coded fields only: no text, no reporter
    assert outbox(ctx, "group") == [("group", "group", "new_report", {
        "reference": "MELD-2026-0001", "kind": "deviation", "category": "discharge_summary",
        "severity": "minor", "place": "stolav_medisinsk", "serious": False})]


def test_references_count_per_year(ctx: services.Context, clock) -> None:
    first = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    second = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    clock.now = clock.now.replace(year=2027, month=1, day=1, hour=0)  # 01:00 in Oslo
    third = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    assert (first, second, third) == ("MELD-2026-0001", "MELD-2026-0002", "MELD-2027-0001")


@pytest.mark.parametrize("severity", ["significant", "severe"])
def test_serious_reports_get_formal_reporting_guidance(ctx: services.Context,
                                                       severity: str) -> None:
    receipt = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft(severity=severity))
    assert receipt.formal_guidance


def test_idempotent_on_client_key(ctx: services.Context) -> None:
    a = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft(), idempotency_key="k1")
    b = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft(), idempotency_key="k1")
    assert a.reference == b.reference
    assert a.status_token == b.status_token
    assert not b.created
    assert count(ctx, m.Report) == 1
    assert len(outbox(ctx)) == 1 and len(outbox(ctx, "group")) == 1
    with pytest.raises(Conflict) as err:
        services.submit_report(ctx=ctx, actor=REPORTER, draft=draft(description="Annen tekst"),
                               idempotency_key="k1")
    assert err.value.code == "idempotency_key_reused"


def test_concurrent_submits_with_one_key_make_one_report(ctx: services.Context) -> None:
    def submit(_: int) -> str:
        return services.submit_report(ctx=ctx, actor=REPORTER, draft=draft(),
                                      idempotency_key="same").reference

    with ThreadPoolExecutor(max_workers=8) as pool:
        refs = set(pool.map(submit, range(16)))
    assert len(refs) == 1
    assert count(ctx, m.Report) == 1


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"kind": "complaint"}, "kind", "invalid_choice"),
        ({"category": "nope"}, "category", "unknown_category"),
        ({"category": "uncategorized"}, "category", "unknown_category"),  # Meld's own
        ({"subcategory": "late_x"}, "subcategory", "unknown_subcategory"),
        ({"place": "oslo"}, "place", "unknown_place"),
        ({"description": "   "}, "description", "required"),
        ({"description": "x" * 3001}, "description", "too_long"),
        ({"description": "tekst\x00med nul"}, "description", "control_characters"),
        ({"description": "RTL \u202e overstyring"}, "description", "control_characters"),
        ({"occurred_on": "2026-03-03"}, "occurred_on", "date_in_future"),
        ({"occurred_on": "03.02.2026"}, "occurred_on", "invalid_date"),
        ({"occurred_on": "2019-01-01"}, "occurred_on", "date_too_old"),
        ({"severity": "catastrophic"}, "severity", "invalid_choice"),
        ({"no_patient_identifiers": False}, "no_patient_identifiers",
         "must_confirm_no_identifiers"),
        ({"reporter_party": "nav"}, "reporter_party", "invalid_choice"),
    ],
)
def test_invalid_drafts_are_refused_per_field(ctx: services.Context, overrides: dict,
                                             field: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        services.submit_report(ctx=ctx, actor=REPORTER, draft=draft(**overrides))
    assert codes(err.value)[field] == code
    assert count(ctx, m.Report) == 0


def test_every_problem_is_reported_at_once(ctx: services.Context) -> None:
    # only the text and the confirmation are required (the rest is filed as the group
    # expects it: tests/integration/test_three_steps.py)
    with pytest.raises(ValidationFailed) as err:
        services.submit_report(ctx=ctx, actor=REPORTER, draft=services.ReportDraft())
    assert set(codes(err.value)) == {"description", "no_patient_identifiers"}
    with pytest.raises(ValidationFailed) as err:
        services.submit_report(ctx=ctx, actor=REPORTER, draft=services.ReportDraft(
            kind="x", category="y", severity="z", occurred_on="w", place="v"))
    assert set(codes(err.value)) == {"kind", "category", "severity", "occurred_on", "place",
                                     "description", "no_patient_identifiers"}


def test_national_identity_numbers_are_refused_and_nothing_is_stored(
    ctx: services.Context,
) -> None:
    fnr = Faker("no_NO").ssn()
    for text in (f"Pasient med fnr {fnr} fikk ikke epikrise",
                 f"gjelder {fnr[:6]} {fnr[6:]}", f"{fnr[:6]}-{fnr[6:]}"):
        with pytest.raises(ValidationFailed) as err:
            services.submit_report(ctx=ctx, actor=REPORTER, draft=draft(description=text),
                                   idempotency_key=text)
        assert codes(err.value) == {"description": "patient_identifier"}
        assert not err.value.only_warnings
        # confirming warnings does not let an identity number through
        with pytest.raises(ValidationFailed):
            services.submit_report(ctx=ctx, actor=REPORTER,
                                   draft=draft(description=text, confirm_warnings=True))
    with pytest.raises(ValidationFailed):
        services.submit_report(ctx=ctx, actor=REPORTER, draft=draft(place_text=fnr))
    assert count(ctx, m.Report) == 0
    assert count(ctx, m.AuditEvent) == 0


def test_warnings_must_be_confirmed(ctx: services.Context) -> None:
    text = "Ring avdelingen på 73 86 80 00 eller skriv til post@stolav.no"
    with pytest.raises(ValidationFailed) as err:
        services.submit_report(ctx=ctx, actor=REPORTER, draft=draft(description=text))
    assert err.value.only_warnings
    assert {e.code for e in err.value.errors} == {"possible_phone", "possible_email"}
    receipt = services.submit_report(ctx=ctx, actor=REPORTER,
                                     draft=draft(description=text, confirm_warnings=True))
    assert receipt.created


def test_group_texts_are_guarded_too(ctx: services.Context) -> None:
    ref = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    fnr = Faker("no_NO").ssn()
    with pytest.raises(ValidationFailed) as err:
        services.reply(ctx=ctx, actor=GROUP, reference=ref, text=f"Gjelder {fnr}?")
    assert codes(err.value) == {"text": "patient_identifier"}
    with pytest.raises(ValidationFailed):
        services.close(ctx=ctx, actor=GROUP, reference=ref, learning_point=fnr, measure="x")


# ---------------------------------------------------------------- reads and roles


def test_reporters_see_only_their_own_and_denials_are_audited(ctx: services.Context) -> None:
    ref = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    with pytest.raises(PermissionDenied) as err:
        services.get_report(ctx=ctx, actor=OTHER, reference=ref)
    assert err.value.code == "not_your_report"
    with pytest.raises(PermissionDenied):
        services.list_reports(ctx=ctx, actor=REPORTER)
    with pytest.raises(PermissionDenied):
        services.reply(ctx=ctx, actor=REPORTER, reference=ref, text="hei")
    with ctx.db.reading() as s:
        actions = s.scalars(select(m.AuditEvent.action).order_by(m.AuditEvent.id)).all()
    assert actions == ["submitted", "read_denied"]
    assert [v.reference for v in services.list_my_reports(ctx=ctx, actor=REPORTER)] == [ref]
    assert services.list_my_reports(ctx=ctx, actor=OTHER) == ()


def test_group_reads_are_audited_and_show_reporter_identity(ctx: services.Context) -> None:
    ref = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    view = services.get_report(ctx=ctx, actor=GROUP, reference=ref)
    assert view.reporter_id == "slack:U123"
    mine = services.get_report(ctx=ctx, actor=REPORTER, reference=ref)
    assert mine.reporter_id is None
    with ctx.db.reading() as s:
        read = s.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "read")).one()
    assert (read.actor_id, read.actor_role) == ("slack:UGROUP", "triager")


def test_unknown_and_malformed_references(ctx: services.Context) -> None:
    with pytest.raises(NotFound):
        services.get_report(ctx=ctx, actor=GROUP, reference="MELD-2026-0999")
    with pytest.raises(ValidationFailed):
        services.get_report(ctx=ctx, actor=GROUP, reference="'; DROP TABLE reports;--")
    # references are case-insensitive at the door
    ref = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    assert services.get_report(ctx=ctx, actor=GROUP, reference=ref.lower()).reference == ref


def test_keyset_pagination_returns_every_report_once(ctx: services.Context) -> None:
    refs = {services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
            for _ in range(7)}
    seen: list[str] = []
    cursor = None
    while True:
        page = services.list_reports(ctx=ctx, actor=GROUP, after=cursor, limit=3)
        seen += [v.reference for v in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted(refs)
    assert len(seen) == len(set(seen))
    assert seen == sorted(seen, reverse=True)


def test_list_filters(ctx: services.Context) -> None:
    services.submit_report(ctx=ctx, actor=REPORTER, draft=draft())
    services.submit_report(ctx=ctx, actor=REPORTER,
                           draft=draft(kind="suggestion", category="routines", subcategory=None,
                                       occurred_on="2026-01-10"))
    f = services.ReportFilter
    assert len(services.list_reports(ctx=ctx, actor=GROUP,
                                     filters=f(kind="suggestion")).items) == 1
    assert len(services.list_reports(ctx=ctx, actor=GROUP,
                                     filters=f(category="discharge_summary")).items) == 1
    assert len(services.list_reports(ctx=ctx, actor=GROUP,
                                     filters=f(occurred_from=date(2026, 2, 1))).items) == 1
    assert len(services.list_reports(ctx=ctx, actor=GROUP,
                                     filters=f(status="received")).items) == 2
    assert services.list_reports(ctx=ctx, actor=GROUP, filters=f(status="closed")).items == ()


# ---------------------------------------------------------------- workflow


def test_full_workflow_notifies_the_reporter_at_every_step(ctx: services.Context,
                                                           clock) -> None:
    ref = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    clock.advance(days=2)
    services.assess(ctx=ctx, actor=GROUP, reference=ref, assessed_severity="moderate",
                    agreement_reference="Retningslinje 3: utskrivning")
    services.assign(ctx=ctx, actor=GROUP, reference=ref, assignee="Kari (fastlege)")
    services.request_info(ctx=ctx, actor=GROUP, reference=ref, question="Hvilken avdeling?")
    view = services.reporter_answer(ctx=ctx, actor=REPORTER, reference=ref,
                                    text="Medisinsk avdeling")
    assert view.status == "triage"
    services.add_note(ctx=ctx, actor=GROUP, reference=ref, text="Internt: ta opp i ASU")
    services.move_status(ctx=ctx, actor=GROUP, reference=ref, status="in_progress",
                         message="Vi tar dette opp med klinikken.")
    services.reply(ctx=ctx, actor=GROUP, reference=ref, text="Klinikken har svart.")
    closed = services.close(ctx=ctx, actor=GROUP, reference=ref,
                            learning_point="Epikrise må sendes samme dag.",
                            measure="Ny sjekkliste ved utskriving.")
    assert closed.status == "closed"
    assert closed.assessed_severity == "moderate"
    assert closed.guideline_breached is True
    reopened = services.reopen(ctx=ctx, actor=GROUP, reference=ref)
    assert reopened.status == "triage"

    events = [(e, p.get("status")) for _c, _r, e, p in outbox(ctx)]
    assert events == [
        ("receipt", None), ("status_changed", "triage"), ("status_changed", "needs_info"),
        ("status_changed", "in_progress"), ("reply", None), ("status_changed", "closed"),
        ("status_changed", "triage"),
    ]
    assert all(r == "slack:U123" for _c, r, _e, _p in outbox(ctx))
    mine = services.get_report(ctx=ctx, actor=REPORTER, reference=ref)
    assert "Internt: ta opp i ASU" not in [x.body for x in mine.messages]
    group = services.get_report(ctx=ctx, actor=GROUP, reference=ref)
    assert [x.direction for x in group.messages] == [
        "group", "reporter", "internal", "group", "group"]
    with ctx.db.reading() as s:
        report = s.scalars(select(m.Report)).one()
    # first feedback is the assessment two days after the report, not the later reply
    assert report.first_feedback_at == datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def test_invalid_moves_are_refused_in_words(ctx: services.Context) -> None:
    ref = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    with pytest.raises(InvalidTransition) as err:
        services.close(ctx=ctx, actor=GROUP, reference=ref, learning_point="a", measure="b")
    assert (err.value.current, err.value.target) == (Status.RECEIVED, Status.CLOSED)
    with pytest.raises(InvalidTransition):
        services.reopen(ctx=ctx, actor=GROUP, reference=ref)
    with pytest.raises(DomainError) as detail:
        services.move_status(ctx=ctx, actor=GROUP, reference=ref, status="closed")
    assert detail.value.code == "status_needs_details"
    with pytest.raises(ValidationFailed) as missing:
        services.close(ctx=ctx, actor=GROUP, reference=ref, learning_point=" ", measure="")
    assert codes(missing.value) == {"learning_point": "required", "measure": "required"}
    assert len(outbox(ctx)) == 1  # only the receipt: refusals change nothing


def test_redirect_duplicate_and_plus_one(ctx: services.Context) -> None:
    first = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    second = services.submit_report(ctx=ctx, actor=OTHER, draft=draft()).reference
    view = services.redirect(ctx=ctx, actor=GROUP, reference=first, target="eqs",
                             external_reference="EQS-12345")
    assert (view.status, view.redirect_target, view.redirect_reference) == (
        "redirected", "eqs", "EQS-12345")
    dup = services.mark_duplicate(ctx=ctx, actor=GROUP, reference=second, duplicate_of=first)
    assert (dup.status, dup.duplicate_of) == ("duplicate", first)
    with pytest.raises(ValidationFailed):
        services.mark_duplicate(ctx=ctx, actor=GROUP, reference=first, duplicate_of=first)
    with pytest.raises(ValidationFailed):
        services.redirect(ctx=ctx, actor=GROUP, reference=first, target="email")
    assert services.plus_one(ctx=ctx, actor=OTHER, reference=first) == 1
    assert services.plus_one(ctx=ctx, actor=GROUP, reference=first) == 2
    with pytest.raises(Conflict):
        services.plus_one(ctx=ctx, actor=OTHER, reference=first)
    last = [p for _c, r, e, p in outbox(ctx) if r == "teams:aad-456"][-1]
    assert last == {"status": "duplicate", "other_reference": first, "reference": second}


def test_reporter_answer_is_only_for_the_reporter(ctx: services.Context) -> None:
    ref = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    with pytest.raises(PermissionDenied):
        services.reporter_answer(ctx=ctx, actor=OTHER, reference=ref, text="hei")
    with pytest.raises(ValidationFailed) as err:
        services.reporter_answer(ctx=ctx, actor=REPORTER, reference=ref,
                                 text="Ring meg på 91234567")
    assert err.value.only_warnings
    services.reporter_answer(ctx=ctx, actor=REPORTER, reference=ref,
                             text="Ring meg på 91234567", confirm_warnings=True)


def test_status_token_finds_the_report_and_nothing_else(ctx: services.Context) -> None:
    receipt = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft())
    actor, view = services.find_by_status_token(ctx=ctx, token=receipt.status_token)
    assert (actor.identity, view.reference) == ("slack:U123", receipt.reference)
    for bad in ("", "0" * 48, receipt.status_token[:-1] + "x", "x" * 500):
        with pytest.raises(NotFound):
            services.find_by_status_token(ctx=ctx, token=bad)


def test_anonymous_web_reporters_get_distinct_pseudonyms(ctx: services.Context) -> None:
    anon = Actor(services.ANONYMOUS_WEB, Role.REPORTER)
    a = services.submit_report(ctx=ctx, actor=anon, draft=draft())
    b = services.submit_report(ctx=ctx, actor=anon, draft=draft())
    id_a, _ = services.find_by_status_token(ctx=ctx, token=a.status_token)
    id_b, _ = services.find_by_status_token(ctx=ctx, token=b.status_token)
    assert id_a.identity.startswith("web:") and id_b.identity.startswith("web:")
    assert id_a.identity != id_b.identity


# ---------------------------------------------------------------- tokens and export


def test_tokens_are_hashed_expire_and_revoke(ctx: services.Context, clock) -> None:
    token = services.create_token(ctx=ctx, name="kari", role="triager", valid_days=30)
    with ctx.db.reading() as s:
        stored = s.scalars(select(m.ApiToken.token_hash)).one()
    assert token not in stored
    actor = services.authenticate_token(ctx=ctx, token=token)
    assert actor.role == Role.TRIAGER
    clock.advance(days=31)
    with pytest.raises(PermissionDenied):
        services.authenticate_token(ctx=ctx, token=token)
    clock.advance(days=-31)
    assert services.revoke_token(ctx=ctx, name="kari") == 1
    with pytest.raises(PermissionDenied):
        services.authenticate_token(ctx=ctx, token=token)
    with pytest.raises(ValidationFailed):
        services.create_token(ctx=ctx, name="x", role="reporter")


def test_export_streams_coded_fields_only(ctx: services.Context) -> None:
    for _ in range(5):
        services.submit_report(ctx=ctx, actor=REPORTER, draft=draft())
    rows = list(services.export_rows(ctx=ctx, actor=GROUP, batch=2))
    assert len(rows) == 5
    flat = " ".join(str(v) for row in rows for v in row)
    assert "Epikrise manglet" not in flat
    assert "slack:U123" not in flat
    with pytest.raises(PermissionDenied):
        list(services.export_rows(ctx=ctx, actor=REPORTER))


def test_a_report_keeps_its_category_when_the_list_changes(ctx: services.Context,
                                                           tmp_path) -> None:
    """The group edits the data file; old reports keep the id they were filed with."""
    from dataclasses import replace

    from intake.domain.taxonomy import load_taxonomy

    ref = services.submit_report(ctx=ctx, actor=REPORTER,
                                 draft=draft(category="reachability", subcategory=None)).reference
    (tmp_path / "categories.toml").write_text(
        '[[category]]\nid = "reachability"\nnb = "Tilgjengelighet"\nactive = false\n\n'
        '[[category]]\nid = "phone"\nnb = "Telefon og vakthavende"\n', encoding="utf-8")
    edited = replace(ctx, taxonomy=load_taxonomy(tmp_path))
    view = services.get_report(ctx=edited, actor=GROUP, reference=ref)
    assert view.category == "reachability"
    assert edited.taxonomy.category_label(view.category, "nb") == "Tilgjengelighet"
    with pytest.raises(ValidationFailed) as err:  # retired: no new reports in it
        services.submit_report(ctx=edited, actor=REPORTER,
                               draft=draft(category="reachability", subcategory=None))
    assert codes(err.value) == {"category": "unknown_category"}
    services.submit_report(ctx=edited, actor=REPORTER,
                           draft=draft(category="phone", subcategory=None))


# ---------------------------------------------------------------- category and subcategory


@pytest.mark.parametrize("sub", ["med_list", "medication/med_list"])
def test_a_subcategory_of_another_category_is_refused_naming_both(ctx: services.Context,
                                                                   sub: str) -> None:
    """Epikrise with Legemidler's Legemiddelliste: refused at the subcategory field, in
    words that name both categories; nothing is stored, nothing silently dropped."""
    from intake.i18n import Translator
    from intake.texts import field_error_text

    with pytest.raises(ValidationFailed) as err:
        services.submit_report(ctx=ctx, actor=REPORTER,
                               draft=draft(category="discharge_summary", subcategory=sub))
    [error] = err.value.errors
    assert (error.field, error.code, error.warning) == (
        "subcategory", "subcategory_of_other_category", False)
    text = field_error_text(error, Translator("nb"))
    assert text.startswith("Underkategori: «Legemiddelliste» hører til kategorien "
                           "«Legemidler», ikke til den valgte «Epikrise».")
    english = services.ReportDraft(**{**vars_of(draft(category="discharge_summary",
                                                      subcategory=sub)), "locale": "en"})
    with pytest.raises(ValidationFailed) as err_en:
        services.submit_report(ctx=ctx, actor=REPORTER, draft=english)
    assert field_error_text(err_en.value.errors[0], Translator("en")).startswith(
        "Subcategory: “Medication list” belongs to the category “Medication”")
    assert count(ctx, m.Report) == 0


def vars_of(d: services.ReportDraft) -> dict:
    return {name: getattr(d, name) for name in d.__slots__}


def test_the_chosen_categorys_own_subcategory_is_kept(ctx: services.Context) -> None:
    """Its own subcategory, plain or as "category/subcategory" (a door's combined choice),
    is stored as the subcategory id; an unknown one is still refused as unknown."""
    plain = services.submit_report(ctx=ctx, actor=REPORTER,
                                   draft=draft(category="medication", subcategory="med_list"))
    combined = services.submit_report(
        ctx=ctx, actor=REPORTER, draft=draft(category="medication",
                                             subcategory="medication/unexplained_change"))
    with ctx.db.reading() as s:
        stored = dict(s.execute(select(m.Report.reference, m.Report.subcategory_id)).all())
    assert stored == {plain.reference: "med_list", combined.reference: "unexplained_change"}
    for sub in ("nope", "medication/nope", "nope/med_list"):
        with pytest.raises(ValidationFailed) as err:
            services.submit_report(ctx=ctx, actor=REPORTER,
                                   draft=draft(category="medication", subcategory=sub))
        assert codes(err.value) == {"subcategory": "unknown_subcategory"}, sub


def test_the_group_cannot_file_a_subcategory_under_another_category(
    ctx: services.Context,
) -> None:
    """The assessment follows the same rule: with a category, its subcategory must be its
    own; a subcategory alone must be one of the report's present category (it used to be
    dropped without a word)."""
    ref = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    with pytest.raises(ValidationFailed) as err:
        services.assess(ctx=ctx, actor=GROUP, reference=ref, category="referral",
                        subcategory="med_list")
    assert codes(err.value) == {"subcategory": "subcategory_of_other_category"}
    with pytest.raises(ValidationFailed) as alone:
        services.assess(ctx=ctx, actor=GROUP, reference=ref, subcategory="med_list")
    assert codes(alone.value) == {"subcategory": "subcategory_of_other_category"}
    assert alone.value.errors[0].params["category"] == "Epikrise"
    with ctx.db.reading() as s:
        row = s.scalars(select(m.Report)).one()
    assert (row.status, row.category_id, row.subcategory_id) == (
        "received", "discharge_summary", "missing")  # refused: nothing changed, no triage
    view = services.assess(ctx=ctx, actor=GROUP, reference=ref, subcategory="late")
    assert (view.category, view.subcategory) == ("discharge_summary", "late")
    view = services.assess(ctx=ctx, actor=GROUP, reference=ref, category="referral",
                           subcategory="referral/misrouted")
    assert (view.category, view.subcategory) == ("referral", "misrouted")


# ---------------------------------------------------------------- unread answers


def _unread(ctx: services.Context) -> dict[str, bool]:
    page = services.list_reports(ctx=ctx, actor=GROUP)
    return {v.reference: v.unread_from_reporter for v in page.items}


def test_a_reporters_message_is_unread_until_the_group_reads_or_answers(
    ctx: services.Context, clock,
) -> None:
    ref = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    other = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    services.request_info(ctx=ctx, actor=GROUP, reference=ref, question="Hvilken avdeling?")
    assert _unread(ctx) == {ref: False, other: False}
    clock.advance(hours=1)
    answered = services.reporter_answer(ctx=ctx, actor=REPORTER, reference=ref,
                                        text="Medisinsk avdeling.")
    assert answered.status == "triage" and not answered.unread_from_reporter  # reporter view
    clock.advance(hours=1)
    services.reporter_answer(ctx=ctx, actor=REPORTER, reference=ref, text="Og en ting til.")
    assert _unread(ctx) == {ref: True, other: False}
    [row] = services.list_reports(ctx=ctx, actor=GROUP,
                                  filters=services.ReportFilter(unread=True)).items
    assert row.reference == ref
    assert row.reporter_unread_since == datetime(2026, 3, 2, 13, 0, tzinfo=UTC)  # the first
    # what shows no messages leaves the mark: a form, an assessment, a note, an assignment
    services.get_report(ctx=ctx, actor=GROUP, reference=ref, mark_read=False)
    services.assess(ctx=ctx, actor=GROUP, reference=ref, assessed_severity="minor")
    services.add_note(ctx=ctx, actor=GROUP, reference=ref, text="Ta opp på møtet.")
    services.assign(ctx=ctx, actor=GROUP, reference=ref, assignee="kari")
    services.move_status(ctx=ctx, actor=GROUP, reference=ref, status="in_progress")
    assert _unread(ctx)[ref] is True
    # opening the report: the view shows the mark it had; the next one none
    opened = services.get_report(ctx=ctx, actor=GROUP, reference=ref)
    assert opened.unread_from_reporter
    assert not services.get_report(ctx=ctx, actor=GROUP, reference=ref).unread_from_reporter
    assert _unread(ctx)[ref] is False
    # writing to the reporter clears it too: a reply, words with a status, a question
    services.reporter_answer(ctx=ctx, actor=REPORTER, reference=ref, text="Hei igjen.")
    assert _unread(ctx)[ref] is True
    services.reply(ctx=ctx, actor=GROUP, reference=ref, text="Takk.")
    assert _unread(ctx)[ref] is False
    services.reporter_answer(ctx=ctx, actor=REPORTER, reference=other, text="Hei.")
    assert _unread(ctx)[other] is True
    services.move_status(ctx=ctx, actor=GROUP, reference=other, status="triage",
                         message="Vi ser på det.")
    assert _unread(ctx)[other] is False
    services.reporter_answer(ctx=ctx, actor=REPORTER, reference=other, text="Og?")
    services.request_info(ctx=ctx, actor=GROUP, reference=other, question="Når?")
    assert _unread(ctx) == {ref: False, other: False}
    with ctx.db.reading() as s:
        cleared = s.execute(select(m.AuditEvent.actor_id, m.AuditEvent.details).where(
            m.AuditEvent.action == "reporter_message_read").order_by(m.AuditEvent.id)).all()
    assert [(a, d["via"]) for a, d in cleared] == [
        ("slack:UGROUP", "read"), ("slack:UGROUP", "reply"), ("slack:UGROUP", "status_message"),
        ("slack:UGROUP", "question")]
    assert count(ctx, m.OutboxMessage) == len(outbox(ctx)) + 2  # no group notice: not closed


def test_a_message_on_a_closed_report_asks_the_group_whether_to_reopen(
    ctx: services.Context,
) -> None:
    """A closed report is in nobody's queue: the reporter's message there marks it unread
    and puts a notice to the group in the outbox (the reference and a hint, no text); the
    report stays closed until the group reopens it."""
    from intake.i18n import Translator
    from intake.texts import notification_text

    ref = services.submit_report(ctx=ctx, actor=REPORTER, draft=draft()).reference
    services.move_status(ctx=ctx, actor=GROUP, reference=ref, status="in_progress")
    services.close(ctx=ctx, actor=GROUP, reference=ref, learning_point="Lærdom",
                   measure="Tiltak")
    before = len(outbox(ctx, "group"))
    view = services.reporter_answer(ctx=ctx, actor=REPORTER, reference=ref,
                                    text="Det skjedde igjen i dag, XYZZY.")
    assert view.status == "closed"
    assert _unread(ctx) == {ref: True}
    notices = outbox(ctx, "group")[before:]
    assert [(c, r, e) for c, r, e, _p in notices] == [("group", "group", "reporter_message")]
    payload = notices[0][3]
    assert payload == {"reference": ref, "status": "closed", "category": "discharge_summary"}
    text = notification_text("reporter_message", payload, Translator("nb"))
    assert text == (f"Melderen har skrevet på {ref}, som er lukket. Les det (vis {ref}); "
                    f"trenger saken oppfølging, gjenåpne den (gjenåpne {ref}).")
    assert "XYZZY" not in str(notices)
    # more messages before the group has read it: still one notice
    services.reporter_answer(ctx=ctx, actor=REPORTER, reference=ref, text="Og i går.")
    assert len(outbox(ctx, "group")) == before + 1
    services.reopen(ctx=ctx, actor=GROUP, reference=ref)
    assert _unread(ctx) == {ref: True}  # reopening is not reading
