""""Var svaret nyttig?": the use case (stored, changed within the window, refused after it,
for someone else, with an identity number) and the figures of the period report (answer
shares with the <3 suppression, the share answered within the promise), on both databases.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from intake import services
from intake.domain.model import (
    Actor,
    Conflict,
    NotFound,
    PermissionDenied,
    Role,
    ValidationFailed,
)
from intake.domain.periods import parse_period
from intake.i18n import Translator
from intake.reporting.period_report import build_period_report
from intake.reporting.render_html import render_html
from intake.reporting.render_tables import render_csv
from intake.texts import notification_text
from storage import models as m
from tests.fakes import FakeClock
from tests.integration.helpers import draft

GROUP = Actor("slack:UGROUP", Role.TRIAGER)
TR = Translator("nb")


def reporter(n: int = 1) -> Actor:
    return Actor(f"slack:UREP{n}", Role.REPORTER)


def submit(ctx: services.Context, who: Actor | None = None,
           occurred_on: str = "2026-02-27") -> str:
    return services.submit_report(ctx=ctx, actor=who or reporter(),
                                  draft=draft(occurred_on=occurred_on)).reference


def close(ctx: services.Context, ref: str) -> None:
    services.move_status(ctx=ctx, actor=GROUP, reference=ref, status="in_progress")
    services.close(ctx=ctx, actor=GROUP, reference=ref, learning_point="Rutine for epikrise.",
                   measure="Sjekkliste ved utskriving.")


def stored(ctx: services.Context, ref: str) -> m.FeedbackRating | None:
    with ctx.db.reading() as session:
        report_id = session.scalar(select(m.Report.id).where(m.Report.reference == ref))
        return session.get(m.FeedbackRating, report_id)


def audit(ctx: services.Context, action: str) -> list[m.AuditEvent]:
    with ctx.db.reading() as session:
        return list(session.scalars(select(m.AuditEvent).where(m.AuditEvent.action == action)
                                    .order_by(m.AuditEvent.id)))


# ---------------------------------------------------------------- the use case


def test_an_answer_is_stored_and_changed_within_the_window(ctx: services.Context,
                                                           clock: FakeClock) -> None:
    ref = submit(ctx)
    close(ctx, ref)
    clock.advance(days=2)
    view = services.rate_answer(ctx=ctx, actor=reporter(), reference=ref, answer="partly")
    assert (view.answer, view.comment, view.can_answer) == ("partly", None, True)
    first = stored(ctx, ref)
    assert first is not None and first.answer == "partly"
    assert first.answered_at == first.changed_at == clock.now

    clock.advance(days=11, hours=23)  # still within the 14 days
    comment = "Fint å høre hva som ble gjort, men det tok lang tid."
    view = services.rate_answer(ctx=ctx, actor=reporter(), reference=ref, answer="yes",
                                comment=f"  {comment} ")
    assert (view.answer, view.comment) == ("yes", comment)
    again = stored(ctx, ref)
    assert again is not None and (again.answer, again.comment) == ("yes", comment)
    assert again.answered_at == first.answered_at and again.changed_at == clock.now
    # the audit carries the answer code, never the comment
    assert [e.details for e in audit(ctx, "rated")] == [
        {"answer": "partly", "changed": False}, {"answer": "yes", "changed": True}]
    assert services.rating_for(ctx=ctx, actor=reporter(), reference=ref).answer == "yes"
    assert services.rating_for(ctx=ctx, actor=GROUP, reference=ref).answer == "yes"


def test_refused_after_the_window_and_before_the_closing(ctx: services.Context,
                                                         clock: FakeClock) -> None:
    ref = submit(ctx)
    with pytest.raises(Conflict) as not_closed:
        services.rate_answer(ctx=ctx, actor=reporter(), reference=ref, answer="yes")
    assert not_closed.value.code == "rating_not_closed"
    close(ctx, ref)
    services.rate_answer(ctx=ctx, actor=reporter(), reference=ref, answer="no")
    clock.advance(days=14, seconds=1)
    with pytest.raises(Conflict) as late:
        services.rate_answer(ctx=ctx, actor=reporter(), reference=ref, answer="yes")
    assert late.value.code == "rating_closed"
    assert late.value.params["date"] == "2026-03-16"
    rating = stored(ctx, ref)
    assert rating is not None and rating.answer == "no"  # the old answer stands
    view = services.rating_for(ctx=ctx, actor=reporter(), reference=ref)
    assert (view.answer, view.can_answer) == ("no", False)


def test_only_the_reporter_may_answer(ctx: services.Context) -> None:
    ref = submit(ctx)
    close(ctx, ref)
    for someone in (reporter(2), GROUP):
        with pytest.raises(PermissionDenied) as denied:
            services.rate_answer(ctx=ctx, actor=someone, reference=ref, answer="no")
        assert denied.value.code == "not_your_report"
    assert stored(ctx, ref) is None
    assert [e.actor_id for e in audit(ctx, "rate_denied")] == ["slack:UREP2", "slack:UGROUP"]
    with pytest.raises(PermissionDenied):
        services.rating_for(ctx=ctx, actor=reporter(2), reference=ref)


def test_the_status_token_is_the_web_reporters_capability(ctx: services.Context) -> None:
    web = Actor("web:abc123", Role.REPORTER)
    ref = submit(ctx, web)
    close(ctx, ref)
    token = services.status_token_for(ctx, ref)
    view = services.rate_answer(ctx=ctx, status_token=token, answer="yes", comment="Takk!")
    assert (view.reference, view.answer, view.comment) == (ref, "yes", "Takk!")
    assert services.rating_for(ctx=ctx, status_token=token).answer == "yes"
    with pytest.raises(NotFound):
        services.rate_answer(ctx=ctx, status_token="ab" * 24, answer="yes")


@pytest.mark.parametrize(("answer", "comment", "field", "code"), [
    ("yes", "Pasienten 12034423421 fikk feil epikrise.", "comment", "patient_identifier"),
    ("maybe", None, "answer", "invalid_choice"),
    ("", None, "answer", "required"),
    ("no", "x" * (services.MAX_RATING_COMMENT + 1), "comment", "too_long"),
    ("no", "skjult\u0007tegn", "comment", "control_characters"),
])
def test_invalid_answers_and_comments_are_refused(ctx: services.Context, answer: str,
                                                  comment: str | None, field: str,
                                                  code: str) -> None:
    ref = submit(ctx)
    close(ctx, ref)
    with pytest.raises(ValidationFailed) as refused:
        services.rate_answer(ctx=ctx, actor=reporter(), reference=ref, answer=answer,
                             comment=comment)
    assert (refused.value.errors[0].field, refused.value.errors[0].code) == (field, code)
    assert stored(ctx, ref) is None


def test_the_closing_notice_asks_in_words_for_the_channel() -> None:
    payload = {"reference": "MELD-2026-0001", "status": "closed", "learning_point": "L",
               "measure": "T"}
    assert notification_text("status_changed", payload, TR, "slack").endswith(
        "Var svaret nyttig? Svar med knappene under.")
    assert notification_text("status_changed", payload, TR, "web").endswith(
        "Var svaret nyttig? Svar i skjemaet under.")
    assert "Var svaret nyttig?" in notification_text("status_changed", payload, TR)
    reopened = notification_text("status_changed", {**payload, "reopened": True}, TR)
    assert "nyttig" not in reopened


# ---------------------------------------------------------------- the period report


def test_the_tertial_report_counts_answers_and_the_promise_kept(ctx: services.Context,
                                                                clock: FakeClock) -> None:
    """Promise: the local (Oslo) day of reporting + 14 days, to the end of that day."""
    clock.now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # 13:00 in Oslo: promise 16 March
    kept_late_evening, missed_after_midnight = submit(ctx), submit(ctx)
    rated = [submit(ctx, reporter(n)) for n in range(1, 6)]
    never = submit(ctx)  # no feedback at all
    other_period = submit(ctx, occurred_on="2025-12-01")
    clock.now = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)  # promise 3 April, in summer time
    kept_in_summer_time, missed_in_summer_time = submit(ctx), submit(ctx)

    def reply_at(ref: str, when: datetime) -> None:
        clock.now = when
        services.reply(ctx=ctx, actor=GROUP, reference=ref, text="Takk, vi ser på det.")

    reply_at(kept_late_evening, datetime(2026, 3, 16, 22, 30, tzinfo=UTC))  # 23:30 in Oslo
    reply_at(missed_after_midnight, datetime(2026, 3, 16, 23, 30, tzinfo=UTC))  # 00:30
    reply_at(kept_in_summer_time, datetime(2026, 4, 3, 21, 30, tzinfo=UTC))  # 23:30 CEST
    reply_at(missed_in_summer_time, datetime(2026, 4, 3, 22, 30, tzinfo=UTC))  # 00:30 CEST
    clock.now = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
    for ref in [*rated, other_period]:
        close(ctx, ref)  # the first feedback of these: after the promise
    for n, (ref, answer) in enumerate(zip(rated, ["yes", "yes", "yes", "partly", "no"],
                                          strict=True), start=1):
        services.rate_answer(ctx=ctx, actor=reporter(n), reference=ref, answer=answer)
    services.rate_answer(ctx=ctx, actor=reporter(), reference=other_period, answer="no")
    assert never

    report = build_period_report(ctx=ctx, actor=GROUP,
                                 period=parse_period("2026-T1", TR), tr=TR)
    assert report.total == 10
    assert (report.feedback_count, report.within_promise, report.promise_days) == (9, 2, 14)
    assert report.within_promise_share == pytest.approx(2 / 10)
    assert report.within_promise_of_feedback == pytest.approx(2 / 9)
    assert [(r.key, r.label, r.count) for r in report.ratings] == [
        ("yes", "Ja", 3), ("partly", "Delvis", 1), ("no", "Nei", 1)]
    assert report.rated == 5

    # the committee's copy: counts below 3 as "<3", and so are shares that would tell them
    html = render_html(report, TR)
    assert "svar på «Var svaret nyttig?»" in html
    assert "Ja: 3 (60\xa0%)" in html
    assert "Delvis: &lt;3 (–)" in html and "Nei: &lt;3 (–)" in html
    assert "av meldingene fikk tilbakemelding innen fristen (14 dager)" in html
    exact = render_html(build_period_report(ctx=ctx, actor=GROUP,
                                            period=parse_period("2026-T1", TR), tr=TR,
                                            suppress=False), TR)
    assert "Delvis: 1 (20\xa0%)" in exact and "Nei: 1 (20\xa0%)" in exact
    assert "20\xa0%" in exact and "22\xa0% av meldingene med tilbakemelding" in exact

    rows = {r.split(",")[1]: r.split(",")[3] for r in render_csv(report, TR).splitlines()
            if r.startswith("totals,")}
    assert rows["feedback_within_promise"] == "2"
    assert rows["feedback_within_promise_share"] == "0.2000"
    assert rows["feedback_within_promise_share_of_feedback"] == "0.2222"
    assert (rows["rated"], rows["rating_yes"], rows["rating_partly"], rows["rating_no"]) == (
        "5", "3", "1", "1")
    assert rows["rating_yes_share"] == "0.6000"

    year = build_period_report(ctx=ctx, actor=GROUP, period=parse_period("2026", TR), tr=TR)
    assert (year.within_promise, year.rated) == (2, 5)
    earlier = build_period_report(ctx=ctx, actor=GROUP, period=parse_period("2025-T3", TR),
                                  tr=TR)
    assert [(r.key, r.count) for r in earlier.ratings] == [("yes", 0), ("partly", 0),
                                                           ("no", 1)]
    assert (earlier.within_promise, earlier.within_promise_of_feedback) == (0, 0.0)
