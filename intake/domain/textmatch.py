"""How Meld reads Norwegian report text to find what belongs together (no I/O).

Both databases' full-text search and `similar` rest on the same steps:

- words: lower case, letters and digits, diacritics folded the way Norwegians type without
  them (å→a, ø→o, æ→ae, é→e), so "søknad" and "soknad" are one word;
- stems: the Snowball Norwegian stemmer, so "epikrisen", "epikriser" and "epikrise" meet;
  function words ("og", "ikke", "på") are left out;
- character trigrams of the stems, which still meet when a word is misspelled
  ("epikirse") or compounded ("epikrisesending").

`text_similarity` weighs stems by how rare they are among the texts compared (idf) and
mixes in the trigram overlap; both are cosines, so the result is in [0, 1].
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[^\W_]+")
# ø and æ have no decomposition; the rest (å, é, ü, ...) lose their marks by NFKD. The
# same folding as SQLite's index (storage.search.FOLDED_TEXT_SQL and unicode61's
# remove_diacritics), so that stems made here are prefixes of the words indexed there.
_FOLD = str.maketrans({"ø": "o", "æ": "ae"})

# Norwegian (bokmål and nynorsk) function words, and the words every report uses: they
# say nothing about which failure a report is about
STOPWORDS = frozenset("""
alle allerede andre at av bare begge ble blei bli blir blitt bort bra da de deg dei deim
deira deires dem den denne der dere deres det dette di din disse dit ditt du dykk dykkar
e ein eit eitt eller elles en enn er et ett etter for fordi fra frå få før ha hadde han
hans har hennar henne hennes her hjå ho hoe honom hoss hossen hun hva hvem hver hvilke
hvilken hvis hvor hvordan hvorfor i ikke ikkje ingen ingi inkje inn inni ja jeg kan kom
korleis korso kun kunne kva kvar kvarhelst kven kvi kvifor man mange me med medan meg
meget mellom men mi min mine mitt mot mykje må måtte ned no noe noen noka noko nokon
nokor nokre nå når og også om opp oss over på samme seg selv si sia sidan siden sin sine
sitt sjøl skal skulle slik so som somme somt så sånn til um upp ut uten var vart varte
ved vere verte vi vil ville vore vors vort vår være vært å
pasient pasienten pasientar pasienter pasientene
""".split())

MIN_WORD = 2
MAX_TERMS = 400  # of one text; a report is at most 20,000 characters


@lru_cache(maxsize=1)
def _stemmer() -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("norwegian")


def _folded_stopwords() -> frozenset[str]:
    return frozenset(fold(word) for word in STOPWORDS)


def fold(text: str) -> str:
    """Lower case, NFC, Norwegian letters and other diacritics folded to plain ones."""
    lowered = unicodedata.normalize("NFC", text).lower().translate(_FOLD)
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_STOP: frozenset[str] = frozenset()  # set below, once fold() exists


def words(text: str) -> list[str]:
    """The folded words of a text, function words left out (in order, repeats kept)."""
    out = []
    for raw in _WORD.findall(unicodedata.normalize("NFC", text).lower()):
        plain = fold(raw)
        if len(plain) < MIN_WORD or plain in _STOP or plain.isdigit():
            continue
        out.append(plain)
        if len(out) >= MAX_TERMS:
            break
    return out


_STOP = _folded_stopwords()


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    """The Norwegian stem of one folded word (never shorter than three letters)."""
    stemmed = _stemmer().stemWord(word)
    return stemmed if len(stemmed) >= 3 else word


def stems(text: str) -> list[str]:
    return [stem(w) for w in words(text)]


def trigrams(terms: Iterable[str]) -> Counter[str]:
    """Character trigrams of each term with its edges marked (" ep", "epi", ..., "is ")."""
    grams: Counter[str] = Counter()
    for term in terms:
        padded = f" {term} "
        grams.update(padded[i:i + 3] for i in range(len(padded) - 2))
    return grams


@dataclass(frozen=True)
class TextProfile:
    """What comparing needs of one text: its stems (counted) and their trigrams."""

    stems: Counter[str]
    grams: Counter[str]

    @classmethod
    def of(cls, text: str | None) -> TextProfile:
        """The profile of a text (kept for the texts compared most recently: `similar`
        reads the same candidates again and again; never changed once made)."""
        return _profile(text or "")

    @property
    def empty(self) -> bool:
        return not self.stems


@lru_cache(maxsize=4096)
def _profile(text: str) -> TextProfile:
    found = stems(text)
    return TextProfile(Counter(found), trigrams(found))


def idf(profiles: Iterable[TextProfile]) -> dict[str, float]:
    """Inverse document frequency of every stem among these texts (smoothed)."""
    frequency: Counter[str] = Counter()
    total = 0
    for profile in profiles:
        total += 1
        frequency.update(profile.stems.keys())
    return {term: math.log((total + 1) / (count + 0.5)) for term, count in frequency.items()}


def _cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    dot = sum(value * b.get(key, 0.0) for key, value in a.items())
    if dot <= 0:
        return 0.0
    norm = math.sqrt(sum(v * v for v in a.values()) * sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def _weighted(profile: TextProfile, weights: Mapping[str, float], default: float
              ) -> dict[str, float]:
    return {term: (1 + math.log(count)) * weights.get(term, default)
            for term, count in profile.stems.items()}


STEM_WEIGHT = 0.6  # the rest is the trigrams': misspellings and compounds


def text_similarity(a: TextProfile, b: TextProfile, weights: Mapping[str, float],
                    default_weight: float = 1.0) -> float:
    """How alike two texts are, in [0, 1]: idf-weighted stems and trigrams, cosines."""
    if a.empty or b.empty:
        return 0.0
    by_stem = _cosine(_weighted(a, weights, default_weight),
                      _weighted(b, weights, default_weight))
    by_gram = _cosine(a.grams, b.grams)
    return STEM_WEIGHT * by_stem + (1 - STEM_WEIGHT) * by_gram


def query_terms(text: str, limit: int = 16) -> list[str]:
    """The distinct stems of a text to look for, the longest (most telling) first."""
    seen: dict[str, None] = {}
    for term in stems(text):
        seen.setdefault(term, None)
    return sorted(seen, key=lambda t: (-len(t), t))[:limit]
