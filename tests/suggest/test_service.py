"""The suggestions on a real database (SQLite and PostgreSQL): trained from the reports
the group has assessed, kept in the process, refreshed on demand."""

from __future__ import annotations

import dataclasses
import threading

from intake import services
from intake.domain.model import Actor, Role
from intake.domain.suggesting import CategoryGuess, CategoryModel
from intake.domain.taxonomy import load_taxonomy
from intake.services import suggesting
from tests.integration.helpers import draft

GROUP = Actor("slack:UGROUP", Role.TRIAGER)

# a word the taxonomy does not know: what the group's assessments teach
TEXT = "Ergoterapeuten fikk aldri vite om hjelpebehovet før hjemreise."
ASSESSED = [
    "Ergoterapeuten ble ikke kontaktet før hjemreise, og ingen hadde vurdert boligen.",
    "Ergoterapeuten manglet opplæring i forflytning av pasienter med hoftebrudd.",
    "Ergoterapeut og fysioterapeut i kommunen fikk ikke tilbud om kurs.",
]


def _submit(ctx: services.Context, text: str, category: str, subcategory: str | None,
            status: str | None = None) -> str:
    reference = services.submit_report(
        ctx=ctx, actor=Actor("web:reporter", Role.REPORTER),
        draft=draft(description=text, category=category, subcategory=subcategory,
                    confirm_warnings=True)).reference
    if status is not None:
        services.move_status(ctx=ctx, actor=GROUP, reference=reference, status=status)
    return reference


def test_training_reads_the_assessed_reports_only(ctx: services.Context) -> None:
    _submit(ctx, ASSESSED[0], "competence", None, status="in_progress")
    _submit(ctx, ASSESSED[1], "referral", "unanswered", status="rejected")
    _submit(ctx, ASSESSED[2], "competence", None)  # received: not assessed yet
    _submit(ctx, "Epikrisen mangler.", "discharge_summary", "missing", status="triage")
    with ctx.db.reading() as session:
        found = sorted(suggesting.training_examples(session))
    assert found == sorted([(ASSESSED[0], "competence", None),
                            (ASSESSED[1], "referral", "unanswered")])


def _suggest(ctx: services.Context) -> list[CategoryGuess]:
    return suggesting.suggest_category(ctx, TEXT)


def test_assessed_reports_change_the_suggestion_after_a_refresh(ctx: services.Context) -> None:
    before = _suggest(ctx)
    kept = suggesting.category_model(ctx)
    assert kept.example_count == 0
    assert not before or before[0].category != "competence"
    for text in ASSESSED:
        _submit(ctx, text, "competence", None, status="in_progress")
    _submit(ctx, "Ergoterapeuten ringte.", "reachability", None)  # not assessed
    # kept until refreshed: the reports submitted meanwhile changed nothing
    assert suggesting.category_model(ctx) is kept
    assert _suggest(ctx) == before
    fresh = suggesting.refresh_category_model(ctx)
    assert fresh is not kept and fresh.example_count == 3
    assert suggesting.category_model(ctx) is fresh
    top = _suggest(ctx)[0]
    assert top.category == "competence"
    assert "Ergoterapeuten" in top.words
    # and the next refresh picks up what the group assessed since
    for text in ASSESSED[:2]:
        _submit(ctx, text.replace("Ergoterapeut", "Logoped"), "other", None,
                status="in_progress")
    assert suggesting.refresh_category_model(ctx).example_count == 5


def test_an_empty_text_asks_nothing(ctx: services.Context) -> None:
    assert suggesting.suggest_category(ctx, "") == []
    assert suggesting.suggest_category(ctx, None) == []
    assert suggesting.suggest_category(ctx, "Epikrisen mangler.")[0].category == (
        "discharge_summary")


def test_one_model_per_context_trained_once(ctx: services.Context) -> None:
    """Threads asking at once share one training (the others are suggested from the
    categories' words meanwhile, never waiting); then all get the one trained model;
    another taxonomy has its own."""
    models: list[CategoryModel] = []
    barrier = threading.Barrier(4)

    def ask() -> None:
        barrier.wait()
        models.append(suggesting.category_model(ctx))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    trained = suggesting.category_model(ctx)
    assert suggesting.category_model(ctx) is trained
    assert len(models) == 4 and trained in models
    assert len({id(m) for m in models}) <= 2  # the trained one, and the words-only one
    models[:] = [trained]
    # another taxonomy has its own: one with a category retired suggests it no more
    first, *rest = ctx.taxonomy.categories
    retired = dataclasses.replace(ctx.taxonomy, categories=(
        dataclasses.replace(first, active=False), *rest))
    other = dataclasses.replace(ctx, taxonomy=retired)
    assert suggesting.category_model(other) is not models[0]
    assert first.id not in suggesting.category_model(other).categories
    assert suggesting.category_model(ctx) is models[0]
    # with no assessed report, equal lists of categories share one model (never changed)
    same = dataclasses.replace(ctx, taxonomy=load_taxonomy())
    assert suggesting.category_model(same) is suggesting.category_model(
        dataclasses.replace(ctx, taxonomy=load_taxonomy()))
