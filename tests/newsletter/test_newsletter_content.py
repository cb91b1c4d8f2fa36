"""The newsletter's draft: counts by category from the tertial's closed reports, the trend
against the previous tertial, suppression below 3 (the trend too), good collaboration
apart, the learning points and measures, and the identifier guard's flags."""

from __future__ import annotations

from intake import services
from intake.i18n import Translator
from intake.texts_newsletter import shown_change, shown_count
from tests.newsletter.conftest import GROUP, PREVIOUS, TERTIAL, Tertials, seed

NB = Translator("nb")


def test_counts_by_category_with_the_trend_and_good_collaboration_apart(
        tertials: Tertials) -> None:
    seed(tertials)
    view = services.newsletter(ctx=tertials.ctx, actor=GROUP, tertial=TERTIAL)
    content = view.content
    assert (content.tertial, content.previous_tertial) == (TERTIAL, PREVIOUS)
    assert [(c.category_id, c.count, c.previous) for c in content.counts] == [
        ("discharge_summary", 6, 4), ("medication", 2, 1), ("referral", 3, 5),
        ("follow_up", 1, 0)]
    # the taxonomy's names, in its order; the reopened and the open report are not counted
    assert [c.label for c in content.counts][:2] == ["Epikrise", "Legemidler"]
    assert (content.total, content.total_previous) == (12, 10)
    # good collaboration: its own counts, never among the deviations
    assert [(c.category_id, c.count) for c in content.good_counts] == [("reachability", 3)]
    assert content.good_total == 3
    assert all(i.section == "good" for i in content.items if i.category_id == "reachability")


def test_small_counts_and_their_trend_are_suppressed() -> None:
    assert [shown_count(n, NB) for n in (0, 1, 2, 3, 17)] == [
        "0", "færre enn 3", "færre enn 3", "3", "17"]
    assert shown_change(6, 4, NB) == "+2"
    assert shown_change(3, 5, NB) == "−2"
    assert shown_change(3, 3, NB) == "±0"
    assert shown_change(2, 1, NB) == "–"  # both suppressed
    assert shown_change(7, 2, NB) == "–"  # one of the two is enough
    assert shown_change(1, 0, NB) == "–"


def test_items_are_the_learning_points_and_measures_by_category(tertials: Tertials) -> None:
    seeded = seed(tertials)
    view = services.newsletter(ctx=tertials.ctx, actor=GROUP, tertial=TERTIAL)
    items = view.content.items
    shared = [i for i in items if i.learning_point and "elektronisk" in i.learning_point]
    assert len(shared) == 1  # two reports with the same words are one item
    assert shared[0].measure == "Ny sjekkliste ved utskrivning."
    assert sorted(shared[0].references) == sorted(seeded["shared"])
    tracked = [i for i in items if i.is_measure]
    assert [(i.measure, i.measure_status, i.category_id) for i in tracked] == [
        ("Felles mal for epikrise innføres.", "planned", "discharge_summary")]
    # the order: deviations first (taxonomy order), good collaboration last
    sections = [i.section for i in items]
    assert sections == sorted(sections, key=["deviations", "good"].index)
    assert not any("trukket tilbake" in (i.learning_point or "") for i in items)
    assert len(items) == 1 + 4 + 2 + 3 + 1 + 3 + 1


def test_the_guard_flags_an_item_and_leaves_it_out(tertials: Tertials) -> None:
    seeded = seed(tertials)
    view = services.newsletter(ctx=tertials.ctx, actor=GROUP, tertial=TERTIAL)
    flagged = [i for i in view.content.items if i.flagged]
    assert [(i.references, i.findings) for i in flagged] == [((seeded["flagged"],), ("phone",))]
    assert flagged[0].key not in view.included
    assert all(i.key in view.included for i in view.content.items if not i.flagged)
    # the group may still take in a warning it has judged (a switchboard number)
    keys = [i.key for i in view.content.items]
    edited = services.edit_newsletter(ctx=tertials.ctx, actor=GROUP, tertial=TERTIAL,
                                      included=keys)
    assert flagged[0].key in edited.included


def test_an_identity_number_is_never_included(tertials: Tertials) -> None:
    from storage import models as m

    reference = tertials.closed("Rutinen er fulgt opp.")
    with tertials.ctx.db.transaction() as session:  # text from before the guard existed
        report = session.query(m.Report).filter_by(reference=reference).one()
        report.learning_point = "Gjaldt pasient 12034423421 som ventet."
    tertials.clock.now = tertials.clock.now.replace(month=5)
    view = services.newsletter(ctx=tertials.ctx, actor=GROUP, tertial=TERTIAL)
    (item,) = view.content.items
    assert item.blocked and item.key not in view.included
    edited = services.edit_newsletter(ctx=tertials.ctx, actor=GROUP, tertial=TERTIAL,
                                      included=[item.key])
    assert edited.included == frozenset()


def test_the_groups_choices_survive_a_new_draft(tertials: Tertials) -> None:
    seed(tertials)
    view = services.newsletter(ctx=tertials.ctx, actor=GROUP, tertial=TERTIAL)
    dropped = next(i for i in view.content.items if i.category_id == "referral")
    keep = [i.key for i in view.content.items if i.key != dropped.key and not i.flagged]
    services.edit_newsletter(ctx=tertials.ctx, actor=GROUP, tertial=TERTIAL, included=keep)
    # a late closing in the same tertial: a new item, in by default; the choice stays
    tertials.closed("Sen lukking gir nytt læringspunkt.", at=tertials.clock.now.replace(
        month=4, day=20), category="admission")
    again = services.draft_newsletter(ctx=tertials.ctx, actor=GROUP, tertial=TERTIAL)
    assert dropped.key in {i.key for i in again.content.items}
    assert dropped.key not in again.included
    late = next(i for i in again.content.items if i.category_id == "admission")
    assert late.key in again.included
    assert set(keep) <= again.included
