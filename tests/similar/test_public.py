"""The public title, suggestions for a reporter about to send, and "Dette har skjedd meg
også" with following: on both databases. Privacy first: a reporter never sees another
reporter's words, identity or the group's notes through any of it."""

from __future__ import annotations

import dataclasses
from datetime import date

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
from intake.services import public
from storage import models as m
from tests.integration.helpers import draft

GROUP = Actor("slack:UGROUP", Role.TRIAGER)
SECRET_WORDS = "Sykepleier Hansen på post 3 glemte epikrisen hos Olsen"


def submit(ctx: services.Context, text: str = SECRET_WORDS, reporter: str = "slack:UREP",
           **fields: str) -> str:
    return services.submit_report(ctx=ctx, actor=Actor(reporter, Role.REPORTER),
                                  draft=draft(description=text, confirm_warnings=True,
                                              **fields)).reference


def titled(ctx: services.Context, title: str, **fields: str) -> str:
    reference = submit(ctx, **fields)
    public.set_public_title(ctx=ctx, actor=GROUP, reference=reference, title=title)
    return reference


def close(ctx: services.Context, reference: str) -> None:
    services.move_status(ctx=ctx, actor=GROUP, reference=reference, status="in_progress")
    services.close(ctx=ctx, actor=GROUP, reference=reference, learning_point="Lært.",
                   measure="Tiltak.")


def test_the_public_title_is_checked_strictly(ctx: services.Context) -> None:
    reference = submit(ctx)
    with pytest.raises(PermissionDenied):
        public.set_public_title(ctx=ctx, actor=Actor("slack:UREP", Role.REPORTER),
                                reference=reference, title="Epikrise mangler")
    for bad in ("Epikrise til 12034423421 mangler", "Ring 41 23 45 67 om epikrisen",
                "Skriv til lege@example.no", "x" * 121, "Epikrise\x00"):
        with pytest.raises(ValidationFailed):
            public.set_public_title(ctx=ctx, actor=GROUP, reference=reference, title=bad)
    assert public.set_public_title(ctx=ctx, actor=GROUP, reference=reference,
                                   title="  Epikrise mangler etter utskrivning ") == (
        "Epikrise mangler etter utskrivning")
    assert public.set_public_title(ctx=ctx, actor=GROUP, reference=reference, title="") is None
    with ctx.db.reading() as session:
        actions = session.scalars(select(m.AuditEvent.action).where(
            m.AuditEvent.action == "public_title")).all()
    assert len(actions) == 2


def test_suggestions_are_open_titled_and_of_the_chosen_category(
        ctx: services.Context) -> None:
    match = titled(ctx, "Epikrise sendes ikke etter utskrivning",
                   place="stolav_medisinsk")
    titled(ctx, "Henvisning returnert", category="referral", subcategory="incomplete")
    untitled = submit(ctx, "Epikrise sendes ikke etter utskrivning")
    other_place = titled(ctx, "Epikrise sendes ikke", place="stolav_kirurgisk")
    closed = titled(ctx, "Epikrise sendes ikke etter utskrivning")
    close(ctx, closed)
    found = public.suggestions(ctx=ctx, category="discharge_summary",
                               place="stolav_medisinsk", text="epikrisen kom aldri")
    assert [s.reference for s in found] == [match]
    anywhere = {s.reference for s in public.suggestions(
        ctx=ctx, category="discharge_summary", text="epikrise")}
    assert anywhere == {match, other_place}
    assert untitled not in anywhere and closed not in anywhere
    assert public.suggestions(ctx=ctx, category=None, text="epikrise") == ()
    assert public.suggestions(ctx=ctx, category="no_such", text="epikrise") == ()


def test_suggestions_carry_nothing_of_another_reporter(ctx: services.Context) -> None:
    reference = titled(ctx, "Epikrise mangler etter utskrivning")
    services.add_note(ctx=ctx, actor=GROUP, reference=reference, text="Intern: ring Olsen")
    [found] = public.suggestions(ctx=ctx, category="discharge_summary", text="epikrise")
    shown = " ".join(str(v) for v in dataclasses.asdict(found).values())
    for word in ("Hansen", "Olsen", "Sykepleier", "slack:UREP", "Intern"):
        assert word not in shown
    # typing the reporter's own words finds nothing more than typing the title does: the
    # hidden text is never read for ranking, so it cannot be probed
    assert public.suggestions(ctx=ctx, category="discharge_summary",
                              text="Hansen Olsen sykepleier post") == ()


def test_me_too_adds_one_with_its_own_date_and_place_and_follows(
        ctx: services.Context) -> None:
    reference = titled(ctx, "Epikrise mangler etter utskrivning")
    doctor = Actor("slack:UDOC", Role.REPORTER)
    count, token = public.me_too(ctx=ctx, actor=doctor, reference=reference,
                                 occurred_on=date(2026, 2, 20), place="trondheim")
    assert (count, token) == (1, None)  # chat: the notices come in chat
    with pytest.raises(Conflict):
        public.me_too(ctx=ctx, actor=doctor, reference=reference)
    web_count, web_token = public.me_too(ctx=ctx, actor=Actor("web:abc", Role.REPORTER),
                                         reference=reference)
    assert web_count == 2 and web_token
    with ctx.db.reading() as session:
        plus = session.scalars(select(m.PlusOne).where(m.PlusOne.actor_id == "slack:UDOC")).one()
        report = session.scalars(select(m.Report).where(m.Report.reference == reference)).one()
    assert (plus.occurred_on, plus.place_id) == (date(2026, 2, 20), "trondheim")
    assert report.plus_one_count == 2  # counted as the group's +1s are (digest, reports)
    for bad in ({"place": "atlantis"}, {"occurred_on": date(2030, 1, 1)}):
        with pytest.raises(ValidationFailed):
            public.me_too(ctx=ctx, actor=Actor("slack:UX", Role.REPORTER),
                          reference=reference, **bad)


def test_me_too_only_on_what_could_be_suggested(ctx: services.Context) -> None:
    untitled = submit(ctx)
    with pytest.raises(NotFound):
        public.me_too(ctx=ctx, actor=Actor("slack:UDOC", Role.REPORTER), reference=untitled)
    closed = titled(ctx, "Epikrise mangler")
    close(ctx, closed)
    with pytest.raises(NotFound):
        public.me_too(ctx=ctx, actor=Actor("slack:UDOC", Role.REPORTER), reference=closed)


def test_followers_hear_of_changes_and_the_learning_point(ctx: services.Context) -> None:
    reference = titled(ctx, "Epikrise mangler etter utskrivning")
    public.me_too(ctx=ctx, actor=Actor("teams:aad-doc", Role.REPORTER), reference=reference)
    _, token = public.me_too(ctx=ctx, actor=Actor("web:xyz", Role.REPORTER),
                             reference=reference)
    assert token is not None
    services.move_status(ctx=ctx, actor=GROUP, reference=reference, status="in_progress")
    services.close(ctx=ctx, actor=GROUP, reference=reference,
                   learning_point="Epikriser sendes nå samme dag.", measure="Sjekkliste.")
    with ctx.db.reading() as session:
        notes = session.execute(select(m.OutboxMessage.channel, m.OutboxMessage.payload).where(
            m.OutboxMessage.recipient == "teams:aad-doc").order_by(m.OutboxMessage.id)).all()
    assert [(c, p["status"]) for c, p in notes] == [
        ("teams", "triage"), ("teams", "in_progress"), ("teams", "closed")]
    assert notes[-1][1]["learning_point"] == "Epikriser sendes nå samme dag."
    assert all(SECRET_WORDS not in str(p) for _, p in notes)
    page = public.followed_report(ctx=ctx, token=token)
    assert page is not None and page.status == "closed"
    assert page.learning_point == "Epikriser sendes nå samme dag."
    assert public.followed_report(ctx=ctx, token="forged") is None
