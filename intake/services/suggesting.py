"""Meld's suggestion of a category and subcategory from a report's text, learnt from the
reports the group has assessed (intake.domain.suggesting has the model; this module feeds
it from the database and keeps one per database and taxonomy in the process).

The model is built on first use (`category_model`) and kept; `refresh_category_model`
trains it anew from the database and replaces the kept one (nightly). Suggesting reads
nothing from the database. Report text is never logged.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from intake.domain.model import UNCATEGORIZED, CategorySource, Status
from intake.domain.suggesting import CategoryGuess, CategoryModel
from intake.domain.taxonomy import Taxonomy
from intake.services.context import Context
from storage import models as m
from storage.db import Database

log = logging.getLogger("meld.suggesting")

STREAM_ROWS = 2000  # rows fetched at a time while training

# statuses past the group's decision: the category it left a report in is its assessment
ASSESSED_STATUSES = (Status.IN_PROGRESS, Status.REDIRECTED, Status.REJECTED,
                     Status.DUPLICATE, Status.CLOSED)


def _assessed_filter() -> ColumnElement[bool]:
    """The reports whose category the group has assessed, which the suggestions learn
    from: those whose category the group set (category_source "group"), and those past
    the group's decision (in progress, redirected, rejected, duplicate, closed: the group
    left them in their category), filed under a real category (not "uncategorized") and
    with a text."""
    return and_(or_(m.Report.category_source == CategorySource.GROUP.value,
                    m.Report.status.in_([s.value for s in ASSESSED_STATUSES])),
                m.Report.category_id != UNCATEGORIZED,
                m.Report.description.is_not(None))


def training_examples(session: Session) -> Iterator[tuple[str, str, str | None]]:
    """(text, category id, subcategory id) of every assessed report, streamed."""
    statement = (select(m.Report.description, m.Report.category_id, m.Report.subcategory_id)
                 .where(_assessed_filter())
                 .execution_options(yield_per=STREAM_ROWS))
    for row in session.execute(statement):
        yield row[0], row[1], row[2]


def train_category_model(ctx: Context) -> CategoryModel:
    """A model trained now from the database and the context's taxonomy (not kept)."""
    started = time.perf_counter()
    with ctx.db.reading() as session:
        model = CategoryModel.build(ctx.taxonomy, training_examples(session))
    log.debug("category suggestions trained from %d assessed reports in %.1f s",
              model.example_count, time.perf_counter() - started)
    return model


@dataclass
class _Kept:
    """The models kept for one database, by taxonomy (its identity: the taxonomy is held
    here, so its id stays its own). `lock` is held while one is trained on first use."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    models: dict[int, tuple[Taxonomy, CategoryModel]] = field(default_factory=dict)
    # the taxonomy's words alone (built in milliseconds): what suggests while the first
    # model is being trained
    interim: dict[int, tuple[Taxonomy, CategoryModel]] = field(default_factory=dict)

    def words_only(self, taxonomy: Taxonomy) -> CategoryModel:
        found = self.interim.get(id(taxonomy))
        if found is None or found[0] is not taxonomy:
            found = self.interim[id(taxonomy)] = (taxonomy, CategoryModel.build(taxonomy))
        return found[1]

    def get(self, taxonomy: Taxonomy) -> CategoryModel | None:
        found = self.models.get(id(taxonomy))
        return found[1] if found is not None and found[0] is taxonomy else None

    def put(self, taxonomy: Taxonomy, model: CategoryModel) -> None:
        self.models[id(taxonomy)] = (taxonomy, model)


# A Context is a frozen dataclass with slots (neither weakly referable nor hashable): the
# models are kept by its database, which goes with it, and then by its taxonomy.
_KEPT: weakref.WeakKeyDictionary[Database, _Kept] = weakref.WeakKeyDictionary()
_KEPT_LOCK = threading.Lock()


def _kept(ctx: Context) -> _Kept:
    with _KEPT_LOCK:
        kept = _KEPT.get(ctx.db)
        if kept is None:
            kept = _KEPT[ctx.db] = _Kept()
        return kept


def category_model(ctx: Context) -> CategoryModel:
    """The process's model for this context: trained from the database on first use,
    then kept (until `refresh_category_model`). While another thread trains the first
    one (`meld serve` trains at start: some seconds on a large database), a submit does
    not wait for it: it is suggested from the taxonomy's words alone meanwhile."""
    kept = _kept(ctx)
    model = kept.get(ctx.taxonomy)
    if model is not None:
        return model
    if not kept.lock.acquire(blocking=False):
        with _KEPT_LOCK:
            return kept.words_only(ctx.taxonomy)
    try:
        model = kept.get(ctx.taxonomy)
        if model is None:
            model = train_category_model(ctx)
            kept.put(ctx.taxonomy, model)
        return model
    finally:
        kept.lock.release()


def suggestions_ready(ctx: Context) -> bool:
    """Whether suggesting for this context reads nothing (its model is trained and kept)."""
    return _kept(ctx).get(ctx.taxonomy) is not None


def refresh_category_model(ctx: Context) -> CategoryModel:
    """Train anew from the database now and keep the new model (the nightly refresh);
    suggestions go on from the old one (or, before the first, from the taxonomy's words)
    until the new one is ready."""
    kept = _kept(ctx)
    with kept.lock:
        model = train_category_model(ctx)
        kept.put(ctx.taxonomy, model)
    return model


def suggest_category(ctx: Context, text: str | None, limit: int = 3, *,
                     words: bool = True) -> list[CategoryGuess]:
    """The likeliest categories (with a subcategory where one stands out) for a report's
    text, best first; [] for a text with no word the model knows. `words=False`: without
    the words that weighed most (CategoryModel.suggest)."""
    if not text or not text.strip():
        return []
    return category_model(ctx).suggest(text, limit, words=words)
