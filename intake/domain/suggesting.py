"""Meld's suggestion of a category and subcategory from a report's text (no I/O).

A multinomial naive Bayes over the text's stems (intake.domain.textmatch), in two steps:
the category among the suggestible ones (active, not Meld's own `system` ones), then the
subcategory within it. What it knows comes from two places:

- the taxonomy: each category's label and `words` (categories.toml), with its
  subcategories' labels and words, are one pseudo-document per category and one per
  subcategory, so that an empty database already suggests. A word of `words` is a stem;
  a few words together ("feil mottaker", "sendt hjem") are a phrase, present in a text
  that holds all of its stems (the words alone say little);
- the group's assessed reports (`examples`: text, category, subcategory), counted on top.

Each text counts a stem once (binarised: a report that says "epikrise" five times is
about discharge summaries no more than one that says it once). Probabilities are smoothed
(Lidstone) and kept as logarithms, computed once at build; a suggestion is then a sum per
category over the text's known stems.

A word the model has not seen is not lost at once: a stem the stemmer cut short or left
long ("provesv" for "prøvesvar", "provesvar" for "prøvesvaret"), a compound
("epikrisesendingen": "epikris" + "sending") or a misspelling one letter off
("epikirse") is matched to the model's most common stems (`_Core`), with less weight.

`CategoryGuess.words` explains a guess: the text's words (as written there) with the
largest log-likelihood ratio for the category against the others.
"""

from __future__ import annotations

import functools
import itertools
import math
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from intake.domain import textmatch
from intake.domain.taxonomy import Category, Item, Taxonomy

ALPHA = 0.2  # Lidstone smoothing, per stem and class
LABEL_WEIGHT = 3.0  # a label's in the taxonomy's pseudo-documents (shared by its stems) ...
WORD_WEIGHT = 2.0  # ... and a word's or phrase's of `words`
SUB_IN_CATEGORY = 0.7  # a subcategory's words in its category's pseudo-document
MIN_EXAMPLES = 2  # a stem seen in fewer examples, and not in the taxonomy, is left out
CORE_SIZE = 4000  # the most common stems, which unknown stems are matched against
RESOLVED_MAX = 50_000  # unknown stems whose resolution a model keeps (a few MB at most)
CORE_MIN = 4  # letters of a core stem (and of a compound's first part) ...
TAIL_MIN = 5  # ... and of a compound's last part
# endings Snowball leaves or strips unevenly ("prøvesvar" -> "provesv" but "prøvesvaret"
# -> "provesvar"; "ringe" -> "ring" but "ringte" -> "ringt"; "varsle" -> "varsl" but
# "varsling"): a known stem one of these longer or shorter than an unknown one is the
# same word
ENDINGS = frozenset({"a", "e", "t", "ar", "er", "en", "et", "as", "es", "ing", "ning"})
INFLECTION_WEIGHT = 0.9  # the same word with another ending
COMPOUND_WEIGHT = 0.6  # each known part of an unknown compound
FUZZY_WEIGHT = 0.6  # a known stem one letter off (a typo) ...
FUZZY_MIN = 5  # ... a letter left out or one too many, in a stem this long ...
SWAP_MIN = 7  # ... a letter changed or two swapped, in a stem this long
# an example counts this much for its subcategory (against 1 for its category): a few
# examples per subcategory are not to drown its words in categories.toml
SUB_DATA_WEIGHT = 0.5
SUB_MIN_SCORE = 0.45  # a subcategory is named when this likely within its category
MAX_WORDS = 4  # words explaining a guess


@dataclass(frozen=True, slots=True)
class CategoryGuess:
    """One suggested category for a text."""

    category: str  # category id
    subcategory: str | None  # best subcategory id within it, or None when none stands out
    score: float  # posterior probability in [0, 1] among the suggestible categories
    words: tuple[str, ...]  # the text's words that weighed most for it (as written)


# ---------------------------------------------------------------- features


def _phrase(stems: Iterable[str]) -> str:
    """A phrase's feature: its distinct stems, sorted, joined by spaces (a stem has none)."""
    return " ".join(sorted(set(stems)))


class _Phrases:
    """The taxonomy's phrases, found in a text that holds all of a phrase's stems."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self.by_stem: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for phrase in set(phrases):
            parts = tuple(phrase.split(" "))
            self.by_stem.setdefault(parts[0], []).append((phrase, parts[1:]))

    def found(self, stems: set[str] | dict[str, float]) -> list[str]:
        return [phrase for stem in stems for phrase, rest in self.by_stem.get(stem, ())
                if all(s in stems for s in rest)]


def _item_document(item: Item) -> dict[str, float]:
    """An item's label stems and its words (a stem, or a phrase of stems), weighted."""
    doc: dict[str, float] = {}

    def add(feature: str, weight: float) -> None:
        doc[feature] = max(doc.get(feature, 0.0), weight)

    # a label's short words ("Annet") tell nothing; the others share its weight
    label = [stem for stem in dict.fromkeys(textmatch.stems(item.nb)) if len(stem) >= CORE_MIN]
    for stem in label:
        add(stem, LABEL_WEIGHT / len(label))
    for word in item.words:
        stems = textmatch.stems(word)
        if stems:
            add(_phrase(stems), WORD_WEIGHT)
    return doc


def _kept(counts: Sequence[Counter[str]], keep: set[str]) -> set[str]:
    """The kept stems seen in MIN_EXAMPLES examples of these classes together."""
    together: Counter[str] = Counter()
    for count in counts:
        together.update(count)
    return {t for t, n in together.items() if n >= MIN_EXAMPLES and t in keep}


def _active_subs(category: Category) -> list[Item]:
    return [s for s in category.subcategories if s.active]


def _category_document(category: Category) -> dict[str, float]:
    """A category's pseudo-document: its label and words, and its active subcategories'
    with a little less weight."""
    doc = _item_document(category)
    for sub in _active_subs(category):
        for feature, weight in _item_document(sub).items():
            doc[feature] = max(doc.get(feature, 0.0), weight * SUB_IN_CATEGORY)
    return doc


# ---------------------------------------------------------------- naive Bayes


class _NaiveBayes:
    """One multinomial naive Bayes over classes 0..n-1: log P(class) and, per feature, the
    tuple of log P(feature | class), with the feature's weight (`_concentration`). Counts
    are the examples holding the feature (binarised), plus the classes' pseudo-documents.
    """

    __slots__ = ("log_p", "log_prior", "only", "total_p", "weight")

    def __init__(self, counts: Sequence[Counter[str]], documents: Sequence[dict[str, float]],
                 examples: Sequence[int], keep: set[str], data_weight: float = 1.0) -> None:
        merged: list[dict[str, float]] = []
        for count, document in zip(counts, documents, strict=True):
            doc = {t: c * data_weight for t, c in count.items() if t in keep}
            for feature, weight in document.items():
                doc[feature] = doc.get(feature, 0.0) + weight
            merged.append(doc)
        vocabulary = {t for doc in merged for t in doc}
        masses = [sum(doc.values()) for doc in merged]
        denominators = [m + ALPHA * max(len(vocabulary), 1) for m in masses]
        total = sum(examples)
        self.log_prior = tuple(math.log((n + 1) / (total + len(merged))) for n in examples)
        self.log_p: dict[str, tuple[float, ...]] = {}
        self.weight: dict[str, float] = {}
        self.total_p: dict[str, float] = {}  # sum over the classes of P(feature | class)
        for feature in vocabulary:
            p = [(doc.get(feature, 0.0) + ALPHA) / d
                 for doc, d in zip(merged, denominators, strict=True)]
            self.log_p[feature] = tuple(math.log(v) for v in p)
            self.total_p[feature] = sum(p)
            self.weight[feature] = _concentration(
                [doc.get(feature, 0.0) / m if m else 0.0
                 for doc, m in zip(merged, masses, strict=True)])
        # a lone class (a category's only subcategory) is named for a word of its own
        self.only = frozenset(documents[0]) if len(documents) == 1 else frozenset()

    def scores(self, features: dict[str, float]) -> list[float]:
        scores = list(self.log_prior)
        log_p, weight = self.log_p, self.weight
        for feature, x in features.items():
            row = log_p.get(feature)
            if row is not None:
                x *= weight[feature]
                scores = [s + x * v for s, v in zip(scores, row, strict=True)]
        return scores

    def ratio(self, feature: str, index: int) -> float:
        """The feature's weighted log-likelihood ratio for a class against the mean of
        the others'."""
        row = self.log_p[feature]
        if len(row) < 2:
            return 0.0
        own = math.exp(row[index])
        others = (self.total_p[feature] - own) / (len(row) - 1)
        return self.weight[feature] * (row[index] - math.log(others))

    def explaining(self, index: int, features: dict[str, float]) -> list[str]:
        """The features with the largest positive contribution (at most MAX_WORDS)."""
        ranked = sorted((-x * self.ratio(f, index), f) for f, x in features.items()
                        if f in self.log_p)
        return [f for contribution, f in ranked[:MAX_WORDS] if contribution < 0]


def _concentration(shares: Sequence[float]) -> float:
    """How much a feature tells the classes apart, in [0, 1]: one minus the normalised
    entropy of its share of each class (relative to the class's size). A stem every class
    holds alike ("fikk", "sykehuset") weighs little; one of a single class, fully."""
    total = sum(shares)
    if total <= 0 or len(shares) < 2:
        return 1.0
    entropy = -sum(s / total * math.log(s / total) for s in shares if s > 0)
    return max(0.0, 1.0 - entropy / math.log(len(shares)))


def _posterior(scores: Sequence[float]) -> list[float]:
    top = max(scores)
    weights = [math.exp(s - top) for s in scores]
    total = sum(weights)
    return [w / total for w in weights]


# ---------------------------------------------------------------- unknown stems


def _deletes(term: str) -> set[str]:
    return {term[:i] + term[i + 1:] for i in range(len(term))}


class _Core:
    """The most common known stems, to match an unknown one to: the same word with the
    stemmer's ending cut or left, the parts of a compound, a typo one letter off."""

    def __init__(self, frequency: Counter[str]) -> None:
        ranked = [t for t, _ in frequency.most_common() if len(t) >= CORE_MIN
                  and " " not in t and t.isalpha()][:CORE_SIZE]
        self.terms = frozenset(ranked)
        self.rank = {t: i for i, t in enumerate(ranked)}
        self.longer: dict[str, str] = {}  # a stem without an ending -> known one with it
        self.typos: dict[str, str] = {}  # a stem with one letter left out -> known one
        for term in ranked:  # most common first: setdefault keeps the most common
            for ending in ENDINGS:
                if term.endswith(ending) and len(term) - len(ending) >= CORE_MIN:
                    self.longer.setdefault(term[:-len(ending)], term)
            if len(term) >= FUZZY_MIN:
                for gone in _deletes(term):
                    self.typos.setdefault(gone, term)
        # what unknown stems resolved to: reports repeat their words, and the model is
        # never changed (a new one is built); bounded, emptied when full
        self._resolved: dict[str, list[tuple[str, float]]] = {}

    def resolve(self, term: str) -> list[tuple[str, float]]:
        """Known stems for an unknown one, with their weight ([] when none)."""
        found = self._resolved.get(term)
        if found is None:
            if len(self._resolved) >= RESOLVED_MAX:
                self._resolved.clear()
            found = self._resolved[term] = self._resolve(term)
        return found

    def _resolve(self, term: str) -> list[tuple[str, float]]:
        if len(term) < CORE_MIN or not term.isalpha():
            return []
        longer = self.longer.get(term)
        if longer is not None:
            return [(longer, INFLECTION_WEIGHT)]
        head = next((term[:i] for i in range(len(term) - 1, CORE_MIN - 1, -1)
                     if term[:i] in self.terms), None)
        if head is not None and term[len(head):] in ENDINGS:
            return [(head, INFLECTION_WEIGHT)]
        if head is not None and len(term) - len(head) < CORE_MIN:
            head = None  # "fastleg" is not "fast" and a bit
        tail = next((term[i:] for i in range(CORE_MIN, len(term) - TAIL_MIN + 1)
                     if term[i:] in self.terms), None)
        parts = [t for t in dict.fromkeys((head, tail)) if t is not None]
        if parts:
            return [(t, COMPOUND_WEIGHT) for t in parts]
        if len(term) >= FUZZY_MIN:
            return self._typo(term)
        return []

    def _typo(self, term: str) -> list[tuple[str, float]]:
        """A known stem one letter off: a letter left out or one too many (from FUZZY_MIN
        letters), another letter or two swapped (from SWAP_MIN: in shorter stems that is
        often another word, "tiltak" and "tilbak")."""
        found = [self.typos[term]] if term in self.typos else []
        deletes = _deletes(term)
        found += [d for d in deletes if d in self.terms]
        if not found and len(term) >= SWAP_MIN:
            found = [self.typos[d] for d in deletes if d in self.typos]
        if not found:
            return []
        return [(min(found, key=self.rank.__getitem__), FUZZY_WEIGHT)]


# ---------------------------------------------------------------- the model


@dataclass(frozen=True, slots=True)
class _SubModel:
    ids: tuple[str, ...]
    bayes: _NaiveBayes


@dataclass(frozen=True, slots=True)
class _Found:
    """A text's features: weight of each, and the text's stems each came from."""

    weights: dict[str, float]
    sources: dict[str, tuple[str, ...]]


class CategoryModel:
    """Suggests categories (best first) for a text; build() once, suggest() often."""

    def __init__(self, categories: tuple[Category, ...], bayes: _NaiveBayes,
                 subs: dict[str, _SubModel], core: _Core, phrases: _Phrases,
                 example_count: int) -> None:
        self._categories = categories
        self._bayes = bayes
        self._subs = subs
        self._core = core
        self._phrases = phrases
        self._example_count = example_count

    @property
    def example_count(self) -> int:
        """The examples the model learned from (those of a suggestible category)."""
        return self._example_count

    @property
    def categories(self) -> tuple[str, ...]:
        """The ids it may suggest."""
        return tuple(c.id for c in self._categories)

    @classmethod
    def build(cls, taxonomy: Taxonomy,
              examples: Iterable[tuple[str, str, str | None]] = ()) -> CategoryModel:
        """The taxonomy's labels and words are the prior; each example (text, category id,
        subcategory id) of an active, non-system category counts on top (others are left
        out). Its subcategory counts when it is an active one of that category.

        Without examples the model depends on the categories alone: it is built once per
        list of categories (equal lists share it; a model is never changed once built)."""
        categories = tuple(taxonomy.active_categories())
        given = iter(examples)
        first = next(given, None)
        if first is None:
            return _words_only(cls, categories)
        return cls._build(categories, itertools.chain([first], given))

    @classmethod
    def _build(cls, categories: tuple[Category, ...],
               examples: Iterable[tuple[str, str, str | None]]) -> CategoryModel:
        index = {c.id: i for i, c in enumerate(categories)}
        subs_of = {c.id: _active_subs(c) for c in categories}
        sub_index = {c.id: {s.id: j for j, s in enumerate(subs_of[c.id])} for c in categories}
        documents = [_category_document(c) for c in categories]
        sub_documents = {c.id: [_item_document(s) for s in subs_of[c.id]] for c in categories}
        phrases = _Phrases(f for doc in documents for f in doc if " " in f)

        counts = [Counter[str]() for _ in categories]
        per_category = [0] * len(categories)
        sub_counts = {c.id: [Counter[str]() for _ in subs_of[c.id]] for c in categories}
        per_sub = {c.id: [0] * len(subs_of[c.id]) for c in categories}
        frequency: Counter[str] = Counter()
        for text, category_id, sub_id in examples:
            i = index.get(category_id)
            stems = set(textmatch.stems(text)) if i is not None and text else None
            if i is None or not stems:
                continue
            features = stems.union(phrases.found(stems))
            per_category[i] += 1
            counts[i].update(features)
            frequency.update(features)
            j = sub_index[category_id].get(sub_id or "")
            if j is not None:
                sub_counts[category_id][j].update(features)
                per_sub[category_id][j] += 1
        # a short stem ("ny", "to", "tid") tells something only when the taxonomy names it
        keep = {t for t, n in frequency.items() if n >= MIN_EXAMPLES and len(t) >= CORE_MIN}
        bayes = _NaiveBayes(counts, documents, per_category, keep)
        subs = {c.id: _SubModel(tuple(s.id for s in subs_of[c.id]), _NaiveBayes(
                    sub_counts[c.id], sub_documents[c.id], per_sub[c.id],
                    _kept(sub_counts[c.id], keep), SUB_DATA_WEIGHT))
                for c in categories if subs_of[c.id]}
        core = Counter({t: n for t, n in frequency.items() if t in keep})
        for doc in documents:
            for feature in doc:
                core[feature] += MIN_EXAMPLES + 1  # the taxonomy's words first
        return cls(categories, bayes, subs, _Core(core), phrases, sum(per_category))

    def features(self, text: str) -> _Found:
        """The model's features for a text: its known stems, the known stems its unknown
        ones resolve to, and the taxonomy's phrases they make up."""
        weights: dict[str, float] = {}
        sources: dict[str, tuple[str, ...]] = {}
        known = self._bayes.log_p
        for stem in dict.fromkeys(textmatch.stems(text)):
            matches = [(stem, 1.0)]
            if stem not in known:
                matches += self._core.resolve(stem)
            for match, weight in matches:
                if weight > weights.get(match, 0.0):
                    weights[match] = weight
                    sources[match] = (stem,)
        for phrase in self._phrases.found(weights):
            parts = phrase.split(" ")
            weights[phrase] = min(weights[p] for p in parts)
            sources[phrase] = tuple(s for p in parts for s in sources[p])
        return _Found({f: w for f, w in weights.items() if f in known}, sources)

    def suggest(self, text: str, limit: int = 3, *, words: bool = True) -> list[CategoryGuess]:
        """The likeliest categories for the text, best first; [] when it has no word the
        model knows. `words=False` leaves out the words that weighed most (a submit stores
        the categories only, and finding the words as written is a share of its CPU)."""
        if limit < 1 or not self._categories:
            return []
        found = self.features(text)
        if not found.weights:
            return []
        posterior = _posterior(self._bayes.scores(found.weights))
        order = sorted(range(len(posterior)), key=lambda i: (-posterior[i], i))[:limit]
        surface = _SurfaceWords(text)
        guesses = []
        for i in order:
            category = self._categories[i]
            features = self._bayes.explaining(i, found.weights) if words else []
            guesses.append(CategoryGuess(
                category=category.id, subcategory=self._subcategory(category.id, found),
                score=posterior[i],
                words=surface.of([s for f in features for s in found.sources[f]])))
        return guesses

    def _subcategory(self, category_id: str, found: _Found) -> str | None:
        model = self._subs.get(category_id)
        if model is None:
            return None
        bayes = model.bayes
        if len(model.ids) == 1:
            return model.ids[0] if any(f in bayes.only for f in found.weights) else None
        posterior = _posterior(bayes.scores(found.weights))
        best = max(range(len(posterior)), key=lambda j: (posterior[j], -j))
        if posterior[best] < SUB_MIN_SCORE or not bayes.explaining(best, found.weights):
            return None
        return model.ids[best]


class _SurfaceWords:
    """A text's words as written there, found by their stem (read once, when needed)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._by_stem: dict[str, str] | None = None

    def of(self, stems: list[str]) -> tuple[str, ...]:
        if not stems:
            return ()
        if self._by_stem is None:
            self._by_stem = {}
            for raw in textmatch._WORD.findall(unicodedata.normalize("NFC", self._text)):
                self._by_stem.setdefault(textmatch.stem(textmatch.fold(raw)), raw)
        words = (self._by_stem.get(s, s) for s in stems)
        return tuple(dict.fromkeys(words))[:MAX_WORDS]


@functools.lru_cache(maxsize=16)
def _words_only(cls: type[CategoryModel], categories: tuple[Category, ...]) -> CategoryModel:
    """The model of the categories' words alone (CategoryModel.build without examples)."""
    return cls._build(categories, ())
