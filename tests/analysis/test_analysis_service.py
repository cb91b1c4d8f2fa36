"""The use cases of incident analyses, on SQLite and PostgreSQL: opening one on several
reports, the guide's sections, the timeline in time order, causes from the fixed list,
measures that are the board's measures, the status table, the identifier guard on every
text, the audit of every read and change, and who may do what."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time, timedelta

import pytest

from intake import services
from intake.domain.analysis import CauseCategory
from intake.domain.model import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.analysis.conftest import GROUP, READER, REPORTER, audit_rows, last_audit_id
from tests.fakes import FakeClock
from tests.mailbox.mails import national_id

Maker = Callable[..., str]


def codes(err: ValidationFailed) -> dict[str, str]:
    return {e.field: e.code for e in err.errors}


def opened(ctx: services.Context, *refs: str, **texts: str) -> services.AnalysisView:
    return services.open_analysis(ctx=ctx, actor=GROUP, references=list(refs),
                                  title=texts.pop("title", "Epikriser som ikke kom fram"),
                                  **texts)


def ready_for_report(ctx: services.Context, analysis_id: int) -> None:
    services.update_analysis(ctx=ctx, actor=GROUP, analysis_id=analysis_id,
                             mandate="Finne hvorfor epikriser uteble.",
                             what_happened="Epikrisen ble ikke sendt.",
                             what_should_have_happened="Epikrise samme dag.")
    services.add_cause(ctx=ctx, actor=GROUP, analysis_id=analysis_id,
                       category="task_technology", description="Køen i DIPS ble ikke fulgt.")


def test_open_on_several_reports(ctx: services.Context, report: Maker) -> None:
    first, second = report(), report(kind="suggestion")
    a = services.open_analysis(ctx=ctx, actor=GROUP, references=[first, second.lower(), first],
                               title="  Epikriser som ikke kom fram ",
                               mandate="Fra ledermøtet.", team="Overlege, fastlege, sekretær")
    assert (a.reference, a.title, a.status) == ("HA-2026-001", "Epikriser som ikke kom fram",
                                               "opened")
    assert a.references == (first, second) and a.mandate == "Fra ledermøtet."
    assert all(r.description is None for r in a.reports)  # coded fields only
    b = opened(ctx, second, title="Andre")
    assert b.reference == "HA-2026-002"
    assert [s.reference for s in services.list_analyses(ctx=ctx, actor=GROUP)] == [
        "HA-2026-002", "HA-2026-001"]
    assert [s.reference for s in services.list_analyses(ctx=ctx, actor=GROUP,
                                                        reference=first)] == ["HA-2026-001"]
    assert [s.reference for s in services.analyses_of_report(ctx=ctx, actor=READER,
                                                             reference=second)] == [
        "HA-2026-001", "HA-2026-002"]
    assert services.list_analyses(ctx=ctx, actor=GROUP, status="closed") == ()
    with pytest.raises(ValidationFailed) as err:
        services.list_analyses(ctx=ctx, actor=GROUP, status="ferdig")
    assert codes(err.value) == {"status": "invalid_choice"}
    with pytest.raises(NotFound):
        opened(ctx, first, "MELD-2026-9999")
    with pytest.raises(ValidationFailed) as err:
        services.open_analysis(ctx=ctx, actor=GROUP, references=[" "], title="")
    assert codes(err.value) == {"title": "required", "references": "required"}
    assert len(services.list_analyses(ctx=ctx, actor=GROUP)) == 2  # nothing half-made


def test_the_sections_of_the_guide(ctx: services.Context, report: Maker) -> None:
    a = opened(ctx, report())
    b = services.update_analysis(ctx=ctx, actor=GROUP, analysis_id=a.id,
                                 team="Overlege medisinsk klinikk; fastlege",
                                 what_happened="Pasienten ble utskrevet fredag.",
                                 what_should_have_happened="Epikrise samme dag.")
    assert b.status == "in_progress"  # the work has started
    assert (b.team, b.what_happened, b.what_should_have_happened) == (
        "Overlege medisinsk klinikk; fastlege", "Pasienten ble utskrevet fredag.",
        "Epikrise samme dag.")
    c = services.update_analysis(ctx=ctx, actor=GROUP, analysis_id=a.id, team="",
                                 title="Ny tittel")
    assert (c.team, c.title, c.what_happened) == (None, "Ny tittel",
                                                  "Pasienten ble utskrevet fredag.")
    for bad, code in (({"title": " "}, "required"), ({"colour": "x"}, "unknown_field"),
                      ({}, "nothing_to_change"), ({"title": "x" * 201}, "too_long")):
        with pytest.raises(ValidationFailed) as err:
            services.update_analysis(ctx=ctx, actor=GROUP, analysis_id=a.id, **bad)
        assert code in codes(err.value).values()
    with pytest.raises(NotFound):
        services.update_analysis(ctx=ctx, actor=GROUP, analysis_id=a.id + 100, mandate="x")


def test_the_timeline_is_in_time_order(ctx: services.Context, report: Maker) -> None:
    a = opened(ctx, report())
    for day, at, what in (("2026-02-27", "14:00", "Fastlegen ringte."),
                          ("2026-02-25", None, "Innleggelse."),
                          ("2026-02-27", "08:30", "Utskrivning."),
                          ("2026-02-27", "", "Samme dag, tid ukjent.")):
        services.add_event(ctx=ctx, actor=GROUP, analysis_id=a.id, happened_on=day,
                           happened_time=at, description=what)
    view = services.get_analysis(ctx=ctx, actor=GROUP, analysis_id=a.id)
    assert [(e.happened_on, e.happened_time, e.description) for e in view.events] == [
        (date(2026, 2, 25), None, "Innleggelse."),
        (date(2026, 2, 27), None, "Samme dag, tid ukjent."),
        (date(2026, 2, 27), time(8, 30), "Utskrivning."),
        (date(2026, 2, 27), time(14, 0), "Fastlegen ringte.")]
    for day, at, field, code in (("2026-03-03", None, "happened_on", "date_in_future"),
                                 ("27.02.2026", None, "happened_on", "invalid_date"),
                                 ("2010-01-01", None, "happened_on", "date_too_old"),
                                 ("2026-02-27", "25:99", "happened_time", "invalid_time")):
        with pytest.raises(ValidationFailed) as err:
            services.add_event(ctx=ctx, actor=GROUP, analysis_id=a.id, happened_on=day,
                               happened_time=at, description="x")
        assert codes(err.value) == {field: code}
    services.remove_event(ctx=ctx, actor=GROUP, analysis_id=a.id, event_id=view.events[0].id)
    with pytest.raises(NotFound):
        services.remove_event(ctx=ctx, actor=GROUP, analysis_id=a.id,
                              event_id=view.events[0].id)
    other = opened(ctx, report())
    with pytest.raises(NotFound):  # an event of another analysis
        services.remove_event(ctx=ctx, actor=GROUP, analysis_id=other.id,
                              event_id=view.events[1].id)
    assert len(services.get_analysis(ctx=ctx, actor=GROUP, analysis_id=a.id).events) == 3


def test_causes_come_from_the_guide_s_list(ctx: services.Context, report: Maker) -> None:
    a = opened(ctx, report())
    for category in CauseCategory:
        services.add_cause(ctx=ctx, actor=GROUP, analysis_id=a.id, category=category.value,
                           description=f"Årsak: {category.value}.")
    with pytest.raises(ValidationFailed) as err:
        services.add_cause(ctx=ctx, actor=GROUP, analysis_id=a.id, category="weather",
                           description="Snøstorm.")
    assert codes(err.value) == {"cause_category": "invalid_choice"}
    with pytest.raises(ValidationFailed) as err:
        services.add_cause(ctx=ctx, actor=GROUP, analysis_id=a.id, category="", description="")
    assert codes(err.value) == {"cause_category": "required", "cause_description": "required"}
    view = services.get_analysis(ctx=ctx, actor=GROUP, analysis_id=a.id)
    assert [c.category for c in view.causes] == [c.value for c in CauseCategory]
    services.remove_cause(ctx=ctx, actor=GROUP, analysis_id=a.id, cause_id=view.causes[0].id)
    view = services.get_analysis(ctx=ctx, actor=GROUP, analysis_id=a.id)
    assert len(view.causes) == len(CauseCategory) - 1


def test_measures_are_the_board_s(ctx: services.Context, report: Maker,
                                  clock: FakeClock) -> None:
    first, second = report(), report()
    a = opened(ctx, first, second)
    due = ctx.today() + timedelta(days=14)
    ms = services.add_analysis_measure(ctx=ctx, actor=GROUP, analysis_id=a.id,
                                       description="Sjekkliste ved utskrivning.",
                                       owner="Per Overlege", due_on=due.isoformat())
    assert (ms.status, ms.owner, ms.due_on, ms.references) == (
        "planned", "Per Overlege", due, (first, second))
    assert [x.id for x in services.list_measures(ctx=ctx, actor=GROUP)] == [ms.id]
    assert [x.id for x in services.list_measures(ctx=ctx, actor=GROUP,
                                                 reference=second)] == [ms.id]
    view = services.get_analysis(ctx=ctx, actor=GROUP, analysis_id=a.id)
    assert [x.id for x in view.measures] == [ms.id]
    # the tertial's counts (1st tertial 2026: the clock is 2 March 2026)
    assert services.measure_counts(ctx=ctx, actor=GROUP, decided_from=date(2026, 1, 1),
                                   decided_to=date(2026, 4, 30)) == {"planned": 1}
    assert services.measure_counts(ctx=ctx, actor=GROUP, decided_from=date(2026, 5, 1)) == {}
    services.update_measure(ctx=ctx, actor=GROUP, measure_id=ms.id, status="done")
    assert services.get_analysis(ctx=ctx, actor=GROUP,
                                 analysis_id=a.id).measures[0].status == "done"
    # a report added later is covered by the measures made after
    third = report()
    services.add_analysis_report(ctx=ctx, actor=GROUP, analysis_id=a.id, reference=third)
    later = services.add_analysis_measure(ctx=ctx, actor=GROUP, analysis_id=a.id,
                                          description="Opplæring.", owner="Kari",
                                          due_on=due)
    assert later.references == (first, second, third)
    clock.advance(days=14)  # due: its owner is reminded in the group's chat (the done one not)
    assert services.send_measure_reminders(ctx) == 1
    with pytest.raises(ValidationFailed) as err:
        services.add_analysis_measure(ctx=ctx, actor=GROUP, analysis_id=a.id,
                                      description="", owner="", due_on="snart")
    assert codes(err.value) == {"measure_description": "required", "owner": "required",
                                "due_on": "invalid_date"}


def test_status_moves_by_the_table(ctx: services.Context, report: Maker) -> None:
    a = opened(ctx, report())
    with pytest.raises(Conflict) as refused:
        services.set_analysis_status(ctx=ctx, actor=GROUP, analysis_id=a.id, status="completed")
    assert refused.value.code == "analysis_invalid_transition"
    with pytest.raises(ValidationFailed) as err:
        services.set_analysis_status(ctx=ctx, actor=GROUP, analysis_id=a.id, status="done")
    assert codes(err.value) == {"status": "invalid_choice"}
    services.set_analysis_status(ctx=ctx, actor=GROUP, analysis_id=a.id, status="in_progress")
    with pytest.raises(ValidationFailed) as err:  # the report needs its sections and a cause
        services.set_analysis_status(ctx=ctx, actor=GROUP, analysis_id=a.id, status="completed")
    assert set(codes(err.value)) == {"mandate", "what_happened", "what_should_have_happened",
                                     "causes"}
    ready_for_report(ctx, a.id)
    done = services.set_analysis_status(ctx=ctx, actor=GROUP, analysis_id=a.id,
                                        status="completed")
    assert done.status == "completed" and done.completed_at is not None
    with pytest.raises(Conflict) as refused:  # steps 1-5 are locked: reopen first
        services.update_analysis(ctx=ctx, actor=GROUP, analysis_id=a.id, mandate="Endret.")
    assert refused.value.code == "analysis_locked"
    with pytest.raises(Conflict):
        services.add_cause(ctx=ctx, actor=GROUP, analysis_id=a.id, category="framework",
                           description="x")
    with pytest.raises(ValidationFailed) as err:
        services.set_analysis_status(ctx=ctx, actor=GROUP, analysis_id=a.id,
                                     status="followed_up")
    assert codes(err.value) == {"follow_up": "required"}
    services.update_analysis(ctx=ctx, actor=GROUP, analysis_id=a.id,
                             follow_up="Ingen nye avvik etter tre måneder.")
    services.set_analysis_status(ctx=ctx, actor=GROUP, analysis_id=a.id, status="followed_up")
    closed = services.set_analysis_status(ctx=ctx, actor=GROUP, analysis_id=a.id,
                                          status="closed")
    assert closed.closed_at is not None
    with pytest.raises(Conflict):
        services.update_analysis(ctx=ctx, actor=GROUP, analysis_id=a.id, follow_up="Mer.")
    with pytest.raises(Conflict):
        services.set_analysis_status(ctx=ctx, actor=GROUP, analysis_id=a.id,
                                     status="completed")
    reopened = services.set_analysis_status(ctx=ctx, actor=GROUP, analysis_id=a.id,
                                            status="in_progress")
    assert (reopened.status, reopened.closed_at) == ("in_progress", None)
    assert reopened.completed_at == done.completed_at  # when it was last written
    services.update_analysis(ctx=ctx, actor=GROUP, analysis_id=a.id, mandate="Endret.")


def test_the_guard_refuses_an_identity_number_in_every_text(ctx: services.Context,
                                                             report: Maker) -> None:
    number = national_id()
    text = f"Pasient med fnr {number} ble skrevet ut."
    ref = report()
    a = opened(ctx, ref)
    attempts = [
        ("title", lambda t: opened(ctx, ref, title=t[:150])),
        ("mandate", lambda t: opened(ctx, ref, mandate=t)),
        ("team", lambda t: opened(ctx, ref, team=t)),
        *[(name, lambda t, name=name: services.update_analysis(
            ctx=ctx, actor=GROUP, analysis_id=a.id, confirm_warnings=True, **{name: t}))
          for name in ("title", "mandate", "team", "what_happened",
                       "what_should_have_happened", "follow_up")],
        ("event_description", lambda t: services.add_event(
            ctx=ctx, actor=GROUP, analysis_id=a.id, happened_on="2026-02-27", description=t,
            confirm_warnings=True)),
        ("cause_description", lambda t: services.add_cause(
            ctx=ctx, actor=GROUP, analysis_id=a.id, category="patient", description=t,
            confirm_warnings=True)),
        ("measure_description", lambda t: services.add_analysis_measure(
            ctx=ctx, actor=GROUP, analysis_id=a.id, description=t, owner="Kari",
            due_on="2026-04-01", confirm_warnings=True)),
    ]
    for field, attempt in attempts:
        with pytest.raises(ValidationFailed) as err:
            attempt(text)
        assert (field, "patient_identifier") in [(e.field, e.code) for e in err.value.errors]
        assert not any(e.warning for e in err.value.errors if e.code == "patient_identifier")
    view = services.get_analysis(ctx=ctx, actor=GROUP, analysis_id=a.id)
    assert (view.status, view.mandate, view.events, view.causes, view.measures) == (
        "opened", None, (), (), ())
    assert len(services.list_analyses(ctx=ctx, actor=GROUP)) == 1
    assert services.list_measures(ctx=ctx, actor=GROUP) == ()


def test_warnings_are_confirmed_like_on_the_form(ctx: services.Context, report: Maker) -> None:
    a = opened(ctx, report())
    text = "Fastlegen nådde ikke sengeposten på 73 86 80 00 eller post@stolav.example.no."
    with pytest.raises(ValidationFailed) as err:
        services.update_analysis(ctx=ctx, actor=GROUP, analysis_id=a.id, what_happened=text)
    assert err.value.only_warnings
    assert {e.code for e in err.value.errors} >= {"possible_phone", "possible_email"}
    view = services.update_analysis(ctx=ctx, actor=GROUP, analysis_id=a.id,
                                    what_happened=text, confirm_warnings=True)
    assert view.what_happened == text


def test_every_read_and_change_is_audited(ctx: services.Context, report: Maker) -> None:
    first, second = report(), report()
    since = last_audit_id(ctx)
    a = opened(ctx, first, second, mandate="Hemmelig mandattekst.")
    services.update_analysis(ctx=ctx, actor=GROUP, analysis_id=a.id, team="Tekst om team.")
    event = services.add_event(ctx=ctx, actor=GROUP, analysis_id=a.id, happened_on="2026-02-27",
                               description="Tekst om hendelse.")
    services.remove_event(ctx=ctx, actor=GROUP, analysis_id=a.id, event_id=event.id)
    cause = services.add_cause(ctx=ctx, actor=GROUP, analysis_id=a.id, category="organisation",
                               description="Tekst om årsak.")
    services.remove_cause(ctx=ctx, actor=GROUP, analysis_id=a.id, cause_id=cause.id)
    services.add_analysis_measure(ctx=ctx, actor=GROUP, analysis_id=a.id,
                                  description="Tekst om tiltak.", owner="Kari",
                                  due_on="2026-04-01")
    services.get_analysis(ctx=ctx, actor=READER, analysis_id=a.id)
    services.get_analysis(ctx=ctx, actor=GROUP, analysis_id=a.id, export="pdf")
    services.list_analyses(ctx=ctx, actor=READER)
    rows = audit_rows(ctx, since)
    assert [(r.action, r.report_id is not None) for r in rows] == [
        ("analysis_opened", True), ("analysis_opened", True),
        ("analysis_status", False),  # the first change starts the work
        ("analysis_updated", False),
        ("analysis_event_added", False), ("analysis_event_removed", False),
        ("analysis_cause_added", False), ("analysis_cause_removed", False),
        ("measure_created", True), ("measure_created", True),  # on the reports' timelines
        ("analysis_measure_added", False),
        ("read", False), ("export", False), ("list", False)]
    assert all(r.details.get("analysis_id") == a.id for r in rows[:-1])
    assert rows[3].details["fields"] == ["team"]
    assert rows[-3].actor_id == READER.identity and rows[-3].actor_role == "reader"
    assert rows[-2].details["format"] == "pdf"
    assert "Tekst" not in str([r.details for r in rows])  # codes and ids, never text
    assert "Hemmelig" not in str([r.details for r in rows])


def test_a_reader_reads_and_changes_nothing(ctx: services.Context, report: Maker) -> None:
    ref = report()
    a = opened(ctx, ref)
    assert services.get_analysis(ctx=ctx, actor=READER, analysis_id=a.id).title == a.title
    assert len(services.list_analyses(ctx=ctx, actor=READER)) == 1
    since = last_audit_id(ctx)
    changes = [
        lambda: services.open_analysis(ctx=ctx, actor=READER, references=[ref], title="x"),
        lambda: services.update_analysis(ctx=ctx, actor=READER, analysis_id=a.id, mandate="x"),
        lambda: services.add_event(ctx=ctx, actor=READER, analysis_id=a.id,
                                   happened_on="2026-02-27", description="x"),
        lambda: services.remove_event(ctx=ctx, actor=READER, analysis_id=a.id, event_id=1),
        lambda: services.add_cause(ctx=ctx, actor=READER, analysis_id=a.id,
                                   category="patient", description="x"),
        lambda: services.remove_cause(ctx=ctx, actor=READER, analysis_id=a.id, cause_id=1),
        lambda: services.add_analysis_measure(ctx=ctx, actor=READER, analysis_id=a.id,
                                              description="x", owner="y", due_on="2026-04-01"),
        lambda: services.add_analysis_report(ctx=ctx, actor=READER, analysis_id=a.id,
                                             reference=ref),
        lambda: services.set_analysis_status(ctx=ctx, actor=READER, analysis_id=a.id,
                                             status="in_progress"),
    ]
    for change in changes:
        with pytest.raises(PermissionDenied):
            change()
    rows = audit_rows(ctx, since)
    assert [r.action for r in rows] == ["denied"] * len(changes)
    assert rows[0].details == {"attempted": "analysis:open"}
    view = services.get_analysis(ctx=ctx, actor=GROUP, analysis_id=a.id)
    assert (view.status, view.mandate) == ("opened", None)


def test_a_reporter_never_reads_an_analysis(ctx: services.Context, report: Maker) -> None:
    ref = report()
    a = opened(ctx, ref)
    since = last_audit_id(ctx)
    for read in (lambda: services.get_analysis(ctx=ctx, actor=REPORTER, analysis_id=a.id),
                 lambda: services.list_analyses(ctx=ctx, actor=REPORTER),
                 lambda: services.analyses_of_report(ctx=ctx, actor=REPORTER, reference=ref),
                 lambda: services.open_analysis(ctx=ctx, actor=REPORTER, references=[ref],
                                                title="x")):
        with pytest.raises(PermissionDenied):
            read()
    assert [r.action for r in audit_rows(ctx, since)] == ["denied"] * 4
