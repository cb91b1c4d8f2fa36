"""The tertial newsletter's content: what the reports closed in a tertial taught, for every
doctor to read (`build_content`), and the shapes the renderers and the posts take.

From the reports closed in the tertial (closed_at in its local days; a reopened report has
no closed_at and drops out):

- per category (the taxonomy's names), the number of closed reports, and the trend against
  the **previous tertial** (the same count there). Deviations, suggestions and input are
  counted together; good collaboration is counted apart, in its own section, never mixed in;
- the items: each distinct learning point of a category, with the report's measure text
  (reports that share both are one item), and the tracked measures of those reports (the
  measure's text and status, never its owner);
- never a report's description, its reporter, its assignee, a date of a single event or
  any other field of a report: the statements below select none of them.

Every item's texts go through the identifier guard (`intake.domain.privacy`): an item with
any finding is flagged, left out by default, and one with an identity number can never be
included; the group rewrites the learning point or the measure on the report instead.
Item keys are stable (a hash of the texts, or the measure's id), so the group's choices
survive a new draft. Counts of 1 and 2 are shown as "fewer than 3", and so is any trend
one of whose two counts is 1 or 2 (`intake.texts_newsletter`).

Reads a session and plain values only (no `intake.services`): the use cases in
`intake.services.newsletter` build on it, the renderers (`newsletter_render`,
`newsletter_pdf`) and the doors show it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, case, func, select
from sqlalchemy.orm import Session

from intake.domain import periods
from intake.domain.model import Kind
from intake.domain.privacy import find_identifiers
from intake.domain.taxonomy import Taxonomy
from intake.i18n import N_, Translator
from storage import models as m

GOOD = Kind.GOOD_COLLABORATION.value
DEVIATIONS, GOOD_SECTION = "deviations", "good"
SECTIONS = (DEVIATIONS, GOOD_SECTION)

DEFAULT_TITLE = N_("What we learned: {period}")

R = m.Report.__table__.c


@dataclass(frozen=True, slots=True)
class CategoryCount:
    """Closed reports of one category in the tertial and in the one before."""

    category_id: str
    label: str
    count: int
    previous: int


@dataclass(frozen=True, slots=True)
class Item:
    """A learning point (with the report's measure) or a tracked measure (with its status)."""

    key: str
    section: str                # DEVIATIONS or GOOD_SECTION
    category_id: str
    category: str               # the taxonomy's name
    learning_point: str | None
    measure: str | None
    measure_status: str | None  # a tracked measure's status; None for a learning point
    findings: tuple[str, ...]   # what the identifier guard found (kinds), sorted
    report_ids: tuple[int, ...]  # whose reporters and +1s contributed (never rendered)
    references: tuple[str, ...] = ()  # the same reports, for the group's board only

    @property
    def flagged(self) -> bool:
        return bool(self.findings)

    @property
    def blocked(self) -> bool:
        """An identity number: never published, whatever the group chooses."""
        return "national_id" in self.findings

    @property
    def is_measure(self) -> bool:
        return self.key.startswith("measure:")


@dataclass(frozen=True, slots=True)
class Content:
    """A tertial's counts and items, as drafted (or frozen at approval)."""

    tertial: str
    previous_tertial: str
    counts: tuple[CategoryCount, ...] = ()
    good_counts: tuple[CategoryCount, ...] = ()
    items: tuple[Item, ...] = ()

    @property
    def total(self) -> int:
        return sum(c.count for c in self.counts)

    @property
    def total_previous(self) -> int:
        return sum(c.previous for c in self.counts)

    @property
    def good_total(self) -> int:
        return sum(c.count for c in self.good_counts)

    @property
    def good_total_previous(self) -> int:
        return sum(c.previous for c in self.good_counts)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Content:
        def counts(rows: Iterable[dict[str, Any]]) -> tuple[CategoryCount, ...]:
            return tuple(CategoryCount(**row) for row in rows)

        items = tuple(Item(**{**row, "findings": tuple(row["findings"]),
                              "report_ids": tuple(row["report_ids"]),
                              "references": tuple(row.get("references", ()))})
                      for row in data.get("items", ()))
        return cls(tertial=data["tertial"], previous_tertial=data["previous_tertial"],
                   counts=counts(data.get("counts", ())),
                   good_counts=counts(data.get("good_counts", ())), items=items)


@dataclass(frozen=True, slots=True)
class PublicationView:
    """Where a newsletter was published, and how far its post got."""

    channel: str            # web, slack:<id>, teams:<id>, email:<address>
    claimed_at: datetime
    state: str              # published, pending, failed
    delivered_at: datetime | None
    error: str | None


@dataclass(frozen=True, slots=True)
class NewsletterView:
    """One tertial's newsletter as the group (and, once published, everyone) sees it."""

    tertial: str
    period_label: str
    previous_label: str
    custom_title: str | None
    introduction: str | None
    status: str             # draft, approved, published
    revision: int
    slug: str
    content: Content
    included: frozenset[str]
    approved_by: str | None = None
    approved_at: datetime | None = None
    published_by: str | None = None
    published_at: datetime | None = None
    publications: tuple[PublicationView, ...] = field(default=())

    def title(self, tr: Translator) -> str:
        return self.custom_title or tr(DEFAULT_TITLE, period=self.period_label)

    @property
    def items(self) -> tuple[Item, ...]:
        """The items that go into the newsletter, in the draft's order."""
        return tuple(i for i in self.content.items if i.key in self.included)

    def items_of(self, section: str) -> list[tuple[str, list[Item]]]:
        """The included items of a section, by category (in the counts' order)."""
        groups: dict[str, list[Item]] = {}
        for item in self.items:
            if item.section == section:
                groups.setdefault(item.category, []).append(item)
        return list(groups.items())


# ---------------------------------------------------------------- choices


def default_included(item: Item) -> bool:
    return not item.flagged


def included_keys(content: Content, choices: dict[str, Any]) -> frozenset[str]:
    """The items in the newsletter: the group's choice where it made one, else the default;
    an item with an identity number never."""
    keys = set()
    for item in content.items:
        chosen = choices.get(item.key)
        wanted = default_included(item) if not isinstance(chosen, bool) else chosen
        if wanted and not item.blocked:
            keys.add(item.key)
    return frozenset(keys)


# ---------------------------------------------------------------- building


def guard_findings(*texts: str | None) -> tuple[str, ...]:
    """The kinds of identifier the guard finds in any of the texts (sorted, once each)."""
    kinds = {f.kind for text in texts if text for f in find_identifiers(text)}
    return tuple(sorted(kinds))


def _key(*parts: str) -> str:
    return "lp:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _section(kind: str) -> str:
    return GOOD_SECTION if kind == GOOD else DEVIATIONS


def _category_order(taxonomy: Taxonomy) -> dict[str, int]:
    return {c.id: i for i, c in enumerate(taxonomy.categories)}


def _counts(session: Session, cur: periods.Period, prev: periods.Period,
            timezone: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(section, category) -> (closed in the tertial, closed in the one before): one
    GROUP BY over the two tertials' closed reports (index on closed_at)."""
    start, end = periods.utc_bounds(cur, timezone)
    prev_start, _ = periods.utc_bounds(prev, timezone)
    good = case((R.kind == GOOD, 1), else_=0)
    in_current = func.sum(case((R.closed_at >= start, 1), else_=0))
    in_previous = func.sum(case((R.closed_at < start, 1), else_=0))
    rows = session.execute(
        select(good.label("good"), R.category_id, in_current.cast(Integer),
               in_previous.cast(Integer))
        .where(R.closed_at >= prev_start, R.closed_at < end)
        .group_by(good, R.category_id)).all()
    return {(GOOD_SECTION if is_good else DEVIATIONS, category): (int(n or 0), int(q or 0))
            for is_good, category, n, q in rows}


def _count_rows(found: dict[tuple[str, str], tuple[int, int]], section: str,
                taxonomy: Taxonomy, locale: str) -> tuple[CategoryCount, ...]:
    """The categories with a closed report in the tertial, in the taxonomy's order (a
    category with none now is left out: the trend says what fell)."""
    order = _category_order(taxonomy)
    rows = [CategoryCount(category, taxonomy.category_label(category, locale), n, q)
            for (sec, category), (n, q) in found.items() if sec == section and n > 0]
    return tuple(sorted(rows, key=lambda r: (order.get(r.category_id, len(order)),
                                             r.category_id)))


def build_content(session: Session, *, taxonomy: Taxonomy, tertial: periods.Period,
                  timezone: str, locale: str) -> Content:
    """The draft content of a tertial from its closed reports (see the module's text)."""
    prev = periods.previous_period(tertial)
    found = _counts(session, tertial, prev, timezone)
    start, end = periods.utc_bounds(tertial, timezone)
    closed = (R.closed_at >= start) & (R.closed_at < end)
    # the group's words only: never description, reporter, assignee or a date
    rows = session.execute(
        select(R.id, R.reference, R.kind, R.category_id, R.learning_point, R.measure)
        .where(closed, R.learning_point.is_not(None))
        .order_by(R.closed_at, R.id)).all()
    tracked = session.execute(
        select(m.Measure.id, m.Measure.description, m.Measure.status, R.id, R.reference,
               R.kind, R.category_id)
        .join(m.MeasureReport, m.MeasureReport.measure_id == m.Measure.id)
        .join(m.Report.__table__, R.id == m.MeasureReport.report_id)
        .where(closed)
        .order_by(m.Measure.id, R.closed_at, R.id)).all()

    order = _category_order(taxonomy)
    labels: dict[str, str] = {}

    def label(category: str) -> str:
        if category not in labels:
            labels[category] = taxonomy.category_label(category, locale)
        return labels[category]

    points: dict[str, dict[str, Any]] = {}
    for report_id, reference, kind, category, point, measure in rows:
        point = (point or "").strip()
        measure = (measure or "").strip() or None
        if not point:
            continue
        section = _section(kind)
        key = _key(section, category, point, measure or "")
        if key in points:
            points[key]["report_ids"].append(report_id)
            points[key]["references"].append(reference)
            continue
        points[key] = {"key": key, "section": section, "category_id": category,
                       "category": label(category), "learning_point": point,
                       "measure": measure, "measure_status": None,
                       "findings": guard_findings(point, measure), "report_ids": [report_id],
                       "references": [reference]}
    measures: dict[str, dict[str, Any]] = {}
    for measure_id, text, status, report_id, reference, kind, category in tracked:
        key = f"measure:{measure_id}"
        if key in measures:
            measures[key]["report_ids"].append(report_id)
            measures[key]["references"].append(reference)
            continue
        measures[key] = {"key": key, "section": _section(kind), "category_id": category,
                         "category": label(category), "learning_point": None,
                         "measure": text.strip(), "measure_status": status,
                         "findings": guard_findings(text), "report_ids": [report_id],
                         "references": [reference]}

    def place(item: dict[str, Any]) -> tuple[int, int, str]:
        category = item["category_id"]
        return (SECTIONS.index(item["section"]), order.get(category, len(order)), category)

    # a stable sort: within a category the learning points in closing order, then measures
    ordered = sorted([*points.values(), *measures.values()], key=place)
    items = tuple(Item(**{**i, "report_ids": tuple(i["report_ids"]),
                          "references": tuple(i["references"])}) for i in ordered)
    return Content(
        tertial=tertial.key, previous_tertial=prev.key,
        counts=_count_rows(found, DEVIATIONS, taxonomy, locale),
        good_counts=_count_rows(found, GOOD_SECTION, taxonomy, locale),
        items=items)
