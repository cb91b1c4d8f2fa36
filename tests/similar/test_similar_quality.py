"""`similar` on the labelled set, on SQLite and PostgreSQL: the true match is found, and a
card's "ligner på" is right."""

from __future__ import annotations

from sqlalchemy import select

from intake import services
from intake.domain.model import Actor, Role
from intake.services import similarity
from storage import models as m
from tests.similarity_cases import CASES, groups

GROUP = Actor("slack:UGROUP", Role.TRIAGER)


def _mates(index: int, refs: list[str]) -> set[str]:
    group = CASES[index].group
    return {refs[j] for j in groups()[group] if j != index} if group else set()


def test_the_true_match_is_in_the_top_five(ctx: services.Context, labelled: list[str]) -> None:
    grouped = [i for i, case in enumerate(CASES) if case.group]
    assert len(grouped) >= 60 and len(groups()) >= 20
    found = 0
    for i in grouped:
        top = services.similar_reports(ctx=ctx, actor=GROUP, reference=labelled[i], limit=5)
        assert len(top) <= 5 and labelled[i] not in {s.view.reference for s in top}
        found += bool(_mates(i, labelled) & {s.view.reference for s in top})
    recall = found / len(grouped)
    assert recall >= 0.9, f"recall@5 {recall:.2f}"


def test_a_cards_ligner_paa_is_right(ctx: services.Context, labelled: list[str]) -> None:
    """Precision of the strong match a new report's card names, over every report of the
    set (the unrelated ones too: naming anything for them is a wrong claim). A card names
    an earlier report only, so the right claim for each is an earlier mate."""
    claims, right = 0, 0
    with ctx.db.reading() as session:
        for i, reference in enumerate(labelled):
            report = session.scalars(
                select(m.Report).where(m.Report.reference == reference)).one()
            match = similarity.strong_match(session, ctx, report)
            if match is None:
                continue
            claims += 1
            assert labelled.index(match.view.reference) < i
            right += match.view.reference in _mates(i, labelled)
    with_earlier = sum(1 for i, case in enumerate(CASES)
                       if case.group and min(groups()[case.group]) < i)
    assert claims >= with_earlier // 3, f"only {claims} claims: the card would rarely help"
    assert right / claims >= 0.8, f"precision {right}/{claims}"


def test_scores_reasons_and_order(ctx: services.Context, labelled: list[str]) -> None:
    first = CASES.index(next(c for c in CASES if c.group == "ref_returned"))
    top = services.similar_reports(ctx=ctx, actor=GROUP, reference=labelled[first])
    assert top, "a referral returned without reason has look-alikes"
    best = top[0]
    assert best.view.reference in _mates(first, labelled)
    assert "same_subcategory" in best.reasons and "similar_text" in best.reasons
    assert 0 < best.score <= 1 and best.view.description is None  # coded fields only
    scores = [s.score for s in top if s.active]
    assert scores == sorted(scores, reverse=True)


def test_open_ones_come_first(ctx: services.Context, labelled: list[str]) -> None:
    first, second, third = groups()["ref_returned"]
    with ctx.db.transaction() as session:  # closed: however alike, after the open ones
        session.execute(m.Report.__table__.update()
                        .where(m.Report.reference == labelled[second])
                        .values(status="closed"))
    top = services.similar_reports(ctx=ctx, actor=GROUP, reference=labelled[first], limit=5)
    states = [s.active for s in top]
    assert states == sorted(states, reverse=True)
    assert labelled[second] in {s.view.reference for s in top}
    assert not next(s for s in top if s.view.reference == labelled[second]).active
    assert labelled[third] in {s.view.reference for s in top}
