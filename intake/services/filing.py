"""What a reporter need not type: the category they change after sending (the receipt's
"endre"), and the place and parties proposed from their last report.

A report may be sent with its text alone (`submitting`): it is filed under Meld's
suggestion or as "uncategorized", and the receipt says so. The reporter may then choose
the category themselves, until the group has assessed it: the group's assessment is its
own (`triage.assess`), and a reporter's change never overwrites it.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, bindparam, select

from intake.domain.model import (
    UNCATEGORIZED,
    Actor,
    CategorySource,
    Conflict,
    FieldError,
    Party,
    PermissionDenied,
    ValidationFailed,
)
from intake.i18n import normalize_locale
from intake.services.common import (
    check_subcategory,
    load_report,
    make_receipt,
    now_utc,
    record_audit,
    transaction,
)
from intake.services.context import Context
from intake.services.views import Receipt
from storage import models as m
from storage.async_driver import for_this_loop


def change_category_to(*, ctx: Context, actor: Actor, reference: str,
                       choice: str | None) -> Receipt:
    """`change_category` from a door's one choice: "category", "category/subcategory"
    (the lists every door shows), or "" to leave it to the group."""
    category, slash, _sub = (choice or "").partition("/")
    return change_category(ctx=ctx, actor=actor, reference=reference,
                           category=category or None, subcategory=choice if slash else None)


def change_category(*, ctx: Context, actor: Actor, reference: str, category: str | None,
                    subcategory: str | None = None) -> Receipt:
    """The reporter files their own report under another category ("endre" in the
    receipt). None or "" (or "uncategorized") leaves it to the group. Only the reporter,
    and only until the group has assessed the category (Conflict `category_assessed`)."""
    category = (category or "").strip() or None
    subcategory = (subcategory or "").strip() or None
    if category is None and subcategory and "/" in subcategory:
        category = subcategory.split("/", 1)[0] or None
    if category == UNCATEGORIZED:
        category = None
    found = ctx.taxonomy.category(category or "")
    if category is not None and (found is None or not found.active or found.system):
        raise ValidationFailed([FieldError("category", "unknown_category")])
    if category is None:
        subcategory = None
    elif subcategory:
        subcategory, problem = check_subcategory(
            ctx.taxonomy, category, subcategory, normalize_locale(ctx.settings.locale),
            active_only=True)
        if problem is not None:
            raise ValidationFailed([problem])
    with transaction(ctx) as session:
        report = load_report(session, reference, for_update=True)
        if report.reporter_id != actor.identity:
            record_audit(session, actor, "category_change_denied", report)
            refused: Exception = PermissionDenied("not_your_report")
        elif report.category_source == CategorySource.GROUP:
            refused = Conflict("category_assessed")
        else:
            before = report.category_id
            report.category_id = category or UNCATEGORIZED
            report.subcategory_id = subcategory
            report.reported_category_id = category
            report.reported_subcategory_id = subcategory
            report.category_source = (CategorySource.REPORTER if category
                                      else CategorySource.NONE).value
            report.updated_at = now_utc(ctx)
            record_audit(session, actor, "category_changed", report, before=before,
                         after=report.category_id, by="reporter")
            return make_receipt(ctx, report, created=False)
    raise refused


@dataclass(frozen=True, slots=True)
class FormDefaults:
    """What a chat form proposes: the place and parties of the reporter's last report."""

    place: str | None = None
    reporter_party: str | None = None
    concerned_party: str | None = None


_LAST_REPORT_OF = (
    select(m.Report.place_id, m.Report.reporter_party, m.Report.concerned_party)
    .where(m.Report.reporter_id == bindparam("reporter"))
    .order_by(m.Report.id.desc()).limit(1))


def form_defaults(*, ctx: Context, actor: Actor) -> FormDefaults:
    """The place and parties of the actor's last report (Slack and Teams: the chat
    identity), where they are still on the lists; empty for someone new."""
    # one statement, built once, on a plain connection: an ORM session and a statement
    # built per call cost three times the read (250 against 70 µs on SQLite)
    with ctx.db.engine.connect() as conn:
        row = conn.execute(_LAST_REPORT_OF, {"reporter": actor.identity}).one_or_none()
    if row is None:
        return FormDefaults()
    return defaults_of(ctx, row.place_id, row.reporter_party, row.concerned_party)


@functools.cache
def _last_report_sql(dialect: Dialect) -> tuple[str, dict[str, Any]]:
    """`_LAST_REPORT_OF` as the driver's own SQL and parameters (compiled once)."""
    compiled = _LAST_REPORT_OF.compile(dialect=dialect)
    return compiled.string, compiled.construct_params({"reporter": ""})


async def form_defaults_async(*, ctx: Context, actor: Actor) -> FormDefaults:
    """`form_defaults` for a door on the event loop: on the loop's PostgreSQL driver
    (`storage.async_driver`), else in a thread of the loop's default executor. Its few
    threads (cores + 4) bound how many connections twenty users opening forms at once
    hold, and keep: one thread and connection each (AnyIO's forty threads) took some
    18 MB that stayed after make bench's Slack load."""
    driver = for_this_loop(ctx.db)
    if driver is None:
        return await asyncio.to_thread(form_defaults, ctx=ctx, actor=actor)
    sql, params = _last_report_sql(ctx.db.engine.dialect)
    async with driver.connection() as run:
        row = await run(sql, {**params, "reporter": actor.identity})
    return FormDefaults() if row is None else defaults_of(ctx, *row)


def defaults_of(ctx: Context, place: str | None, reporter_party: str | None,
                concerned_party: str | None) -> FormDefaults:
    """Proposed values as remembered (a web cookie, the last report), kept only where they
    are still valid choices: an unknown, retired or forged value is dropped."""
    found = ctx.taxonomy.place(place or "")
    parties = {p.value for p in Party}
    return FormDefaults(
        place=found.id if found is not None and found.active else None,
        reporter_party=reporter_party if reporter_party in parties else None,
        concerned_party=concerned_party if concerned_party in parties else None,
    )
