"""How good the suggestions are on a labelled set: top-1 and top-3 category accuracy, and
how often the subcategory named is the right one. Used by the tests and by
`python -m bench --only suggest` (k-fold over the whole set)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from intake.domain.suggesting import CategoryModel
from intake.domain.taxonomy import Taxonomy
from tests.suggest.labelled import LABELLED, Labelled

HELD_OUT_EVERY = 3  # every third text is held out of training


@dataclass(frozen=True, slots=True)
class Accuracy:
    texts: int
    top1: int  # the right category first
    top3: int  # among the first three
    sub_named: int  # of the texts with a right top-1 and a labelled subcategory: one named
    sub_right: int  # ... and it was the labelled one
    sub_labelled: int  # texts with a right top-1 and a labelled subcategory

    @property
    def top1_rate(self) -> float:
        return self.top1 / self.texts if self.texts else 0.0

    @property
    def top3_rate(self) -> float:
        return self.top3 / self.texts if self.texts else 0.0

    @property
    def sub_rate(self) -> float:
        """Right subcategories among the texts whose category came first."""
        return self.sub_right / self.sub_labelled if self.sub_labelled else 0.0

    def __add__(self, other: Accuracy) -> Accuracy:
        return Accuracy(*(a + b for a, b in zip(_fields(self), _fields(other), strict=True)))

    def line(self) -> str:
        return (f"top-1 {self.top1_rate:.3f}, top-3 {self.top3_rate:.3f} of {self.texts} "
                f"texts; subcategory right {self.sub_rate:.3f} "
                f"({self.sub_right}/{self.sub_labelled}, named {self.sub_named})")


def _fields(a: Accuracy) -> tuple[int, ...]:
    return (a.texts, a.top1, a.top3, a.sub_named, a.sub_right, a.sub_labelled)


def split(cases: Sequence[Labelled] = LABELLED, every: int = HELD_OUT_EVERY
          ) -> tuple[list[Labelled], list[Labelled]]:
    """(training, held out): every `every`-th text held out, deterministically."""
    training = [c for i, c in enumerate(cases) if i % every != every - 1]
    held_out = [c for i, c in enumerate(cases) if i % every == every - 1]
    return training, held_out


def examples(cases: Sequence[Labelled]) -> list[tuple[str, str, str | None]]:
    return [(c.text, c.category, c.subcategory) for c in cases]


def measure(model: CategoryModel, cases: Sequence[Labelled]) -> Accuracy:
    top1 = top3 = named = right = labelled = 0
    for case in cases:
        guesses = model.suggest(case.text, limit=3)
        ids = [g.category for g in guesses]
        top3 += case.category in ids
        if ids[:1] == [case.category]:
            top1 += 1
            if case.subcategory is not None:
                labelled += 1
                named += guesses[0].subcategory is not None
                right += guesses[0].subcategory == case.subcategory
    return Accuracy(len(cases), top1, top3, named, right, labelled)


def held_out(taxonomy: Taxonomy, *, trained: bool = True,
             cases: Sequence[Labelled] = LABELLED) -> Accuracy:
    """Trained on two thirds (or on the taxonomy alone), measured on the third held out."""
    training, rest = split(cases)
    model = CategoryModel.build(taxonomy, examples(training) if trained else ())
    return measure(model, rest)


def cross_validate(taxonomy: Taxonomy, *, folds: int = 5, trained: bool = True,
                   cases: Sequence[Labelled] = LABELLED) -> Accuracy:
    """k-fold over the whole set: fold i is the texts whose index is i modulo `folds`,
    measured with a model trained on the others (and the taxonomy), summed over the
    folds; untrained, the taxonomy alone measured on every text."""
    if not trained:
        return measure(CategoryModel.build(taxonomy), cases)
    total = Accuracy(0, 0, 0, 0, 0, 0)
    for fold in range(folds):
        training = [c for i, c in enumerate(cases) if i % folds != fold]
        tested = [c for i, c in enumerate(cases) if i % folds == fold]
        total += measure(CategoryModel.build(taxonomy, examples(training)), tested)
    return total
