"""The suggestion model itself (intake.domain.suggesting) and the taxonomy's `words`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from intake.domain import suggesting
from intake.domain.suggesting import CategoryModel
from intake.domain.taxonomy import Taxonomy, TaxonomyError, load_taxonomy

SHIPPED = load_taxonomy()


@pytest.fixture(scope="module")
def model() -> CategoryModel:
    return CategoryModel.build(SHIPPED)


def _taxonomy(tmp_path: Path, text: str) -> Taxonomy:
    (tmp_path / "categories.toml").write_text(text, encoding="utf-8")
    return load_taxonomy(tmp_path)


SMALL = '''
[[category]]
id = "discharge_summary"
nb = "Epikrise"
words = ["utskrivningsnotat", "sammenfatning"]
subcategories = [
  { id = "missing", nb = "Mangler", words = ["ikke mottatt", "uteblitt"] },
  { id = "late", nb = "Forsinket", words = ["for sent", "purret"] },
  { id = "gone", nb = "Borte", words = ["telefaks"], active = false },
]

[[category]]
id = "referral"
nb = "Henvisning"
words = ["henvist", "rettighetsvurdering"]

[[category]]
id = "old_phone"
nb = "Telefon"
words = ["telefon", "sentralbord"]
active = false

[[category]]
id = "uncategorized"
nb = "Ikke kategorisert"
words = ["sentralbord", "postkasse"]
system = true
'''


# ---------------------------------------------------------------- the taxonomy's words


def test_every_suggestible_category_and_subcategory_has_words() -> None:
    for category in SHIPPED.active_categories():
        assert len(category.words) >= 5, category.id
        for sub in category.subcategories:
            if sub.active:
                assert len(sub.words) >= 5, (category.id, sub.id)
            assert all(w.strip() == w and w for w in sub.words)


def test_words_are_read_on_categories_and_subcategories(tmp_path: Path) -> None:
    tax = _taxonomy(tmp_path, SMALL)
    summary = tax.category("discharge_summary")
    assert summary is not None
    assert summary.words == ("utskrivningsnotat", "sammenfatning")
    assert summary.subcategory("missing").words == ("ikke mottatt", "uteblitt")  # type: ignore[union-attr]
    assert tax.category("referral").subcategories == ()  # type: ignore[union-attr]
    # optional: an item without words has none
    (tmp_path / "categories.toml").write_text('[[category]]\nid = "a"\nnb = "A"\n',
                                              encoding="utf-8")
    assert load_taxonomy(tmp_path).category("a").words == ()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[[category]]\nid = "a"\nnb = "A"\nwords = "epikrise"\n', "'a'"),
        ('[[category]]\nid = "a"\nnb = "A"\nwords = ["epikrise", ""]\n', "'a'"),
        ('[[category]]\nid = "a"\nnb = "A"\nwords = ["epikrise", "   "]\n', "'a'"),
        ('[[category]]\nid = "a"\nnb = "A"\nwords = [1, 2]\n', "'a'"),
        ('[[category]]\nid = "a"\nnb = "A"\nsubcategories = [\n'
         '  { id = "b", nb = "B", words = ["ok", 3] },\n]\n', r"\(a\).*'b'"),
    ],
)
def test_malformed_words_are_refused_naming_file_and_entry(tmp_path: Path, text: str,
                                                           named: str) -> None:
    (tmp_path / "categories.toml").write_text(text, encoding="utf-8")
    with pytest.raises(TaxonomyError, match=rf"categories\.toml.*{named}.*words"):
        load_taxonomy(tmp_path)


# ---------------------------------------------------------------- suggesting


def test_a_text_with_no_word_the_model_knows_gets_nothing(model: CategoryModel) -> None:
    for text in ("", "   ", "og i på det", "Qwzx blorpt flimf.", "12345 678"):
        assert model.suggest(text) == [], text
    assert model.suggest("Epikrisen kom ikke.", limit=0) == []


def test_guesses_are_ordered_probabilities(model: CategoryModel) -> None:
    text = "Epikrisen kom aldri, og legemiddellisten i den var feil."
    guesses = model.suggest(text, limit=5)
    assert len(guesses) == 5
    scores = [g.score for g in guesses]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores) and sum(scores) <= 1.0 + 1e-9
    assert len({g.category for g in guesses}) == 5
    assert {guesses[0].category, guesses[1].category} == {"discharge_summary", "medication"}
    assert [g.category for g in model.suggest(text, limit=1)] == [guesses[0].category]
    everything = model.suggest(text, limit=100)
    assert len(everything) == len(SHIPPED.active_categories())
    assert sum(g.score for g in everything) == pytest.approx(1.0)


def test_the_words_explain_a_guess_as_written(model: CategoryModel) -> None:
    text = "Fastlegen har purret, men Epikrisen fra ortopeden er fortsatt ikke kommet."
    top = model.suggest(text)[0]
    assert top.category == "discharge_summary"
    assert 1 <= len(top.words) <= 4
    assert "Epikrisen" in top.words  # as written, not a stem ("epikris")
    assert all(w in text for w in top.words)


def test_without_the_words_the_guesses_are_the_same(model: CategoryModel) -> None:
    """`words=False` (a submit's filing) leaves out the explaining words only."""
    for text in ("Fastlegen har purret, men Epikrisen fra ortopeden er fortsatt ikke kommet.",
                 "Henvisningen ble returnert uten begrunnelse.",
                 "Ingen beskjed til hjemmetjenesten ved utskrivning."):
        full, bare = model.suggest(text), model.suggest(text, words=False)
        assert any(g.words for g in full)
        assert [g.words for g in bare] == [()] * len(full)
        assert [(g.category, g.subcategory, g.score) for g in bare] == \
            [(g.category, g.subcategory, g.score) for g in full]


def test_a_subcategory_is_named_when_it_stands_out(model: CategoryModel) -> None:
    for text, category, sub in [
        ("Epikrisen ble sendt til pasientens tidligere fastlege.", "discharge_summary",
         "wrong_recipient"),
        ("Henvisningen til nevrologen ble avvist og returnert uten begrunnelse.",
         "referral", "rejected_or_returned"),
        ("Pasienten ble meldt utskrivningsklar klokken tre og kom hjem samme kveld.",
         "discharge_notice", "ready_for_discharge_notice"),
        ("E-resepten var ikke sendt, så apoteket kunne ikke utlevere medisinene.",
         "medication", "prescription_supply"),
    ]:
        top = model.suggest(text)[0]
        assert (top.category, top.subcategory) == (category, sub), text


def test_no_subcategory_when_none_stands_out(model: CategoryModel) -> None:
    top = model.suggest("Epikrisen.")[0]
    assert top.category == "discharge_summary"
    assert top.subcategory is None
    # a category without subcategories never names one
    top = model.suggest("Vakthavende tok ikke telefonen.")[0]
    assert (top.category, top.subcategory) == ("reachability", None)


def test_compounds_inflections_and_typos_still_meet(model: CategoryModel) -> None:
    for text, category in [
        ("Epikrisesendingen stoppet opp.", "discharge_summary"),
        ("Har etterlyst epikirse i tre uker.", "discharge_summary"),
        ("Henvsiningen ble returnert.", "referral"),
        ("Prøvesvarene ble ikke fulgt opp.", "follow_up"),
        ("Dialogmeldingene våre blir aldri besvart.", "e_messaging"),
    ]:
        assert model.suggest(text)[0].category == category, text


def test_resolved_words_are_kept_and_the_keeping_is_bounded(
        model: CategoryModel, monkeypatch: pytest.MonkeyPatch) -> None:
    """What an unknown stem resolves to is kept (reports repeat their words); the same
    text gets the same guesses the second time, and the kept ones never pass the bound."""
    text = "Henvsiningen ble returnert, epikirsen kom aldri."
    first = model.suggest(text)
    assert model.suggest(text) == first
    monkeypatch.setattr(suggesting, "RESOLVED_MAX", 3)
    for letter in "abcdefg":  # words no model knows: each is resolved and kept
        model.suggest(f"epikirse{letter}q")
        assert f"epikirse{letter}q" in model._core._resolved
        assert len(model._core._resolved) <= 3
    assert model.suggest(text) == first


def test_inactive_and_system_categories_are_never_suggested(tmp_path: Path) -> None:
    tax = _taxonomy(tmp_path, SMALL)
    examples = [("Sentralbordet svarte ikke på telefonen.", "old_phone", None),
                ("Brev i postkassen om sentralbordet.", "uncategorized", None),
                ("Telefaks fra sentralbordet.", "discharge_summary", "gone")] * 3
    model = CategoryModel.build(tax, examples)
    assert set(model.categories) == {"discharge_summary", "referral"}
    for text in ("Sentralbordet svarte ikke på telefonen.", "Postkassen var full.",
                 "Utskrivningsnotatet kom per telefaks.", "Henvist for rettighetsvurdering."):
        for guess in model.suggest(text, limit=10):
            assert guess.category in {"discharge_summary", "referral"}
            assert guess.subcategory in {None, "missing", "late"}


def test_an_example_of_a_retired_or_unknown_category_is_left_out(tmp_path: Path) -> None:
    tax = _taxonomy(tmp_path, SMALL)
    retired = [("Kardiologen svarte aldri på henvendelsen.", "old_phone", None),
               ("Kardiologen var ikke til å nå.", "gone_long_ago", None),
               ("Kardiologen ringte ikke tilbake.", "uncategorized", None),
               ("", "referral", None)]
    model = CategoryModel.build(tax, retired * 2)
    assert model.example_count == 0
    assert model.suggest("Kardiologen.") == []  # the examples taught it nothing
    taught = CategoryModel.build(tax, [("Kardiologen svarte aldri.", "referral", None)] * 2)
    assert taught.example_count == 2
    assert taught.suggest("Kardiologen.")[0].category == "referral"


def test_the_groups_assessments_change_the_suggestions() -> None:
    text = "Ergoterapeuten på rehabiliteringen fikk aldri vite om hjelpebehovet."
    before = CategoryModel.build(SHIPPED).suggest(text)
    examples = [
        ("Ergoterapeuten ble ikke kontaktet før hjemreise.", "competence", None),
        ("Ergoterapeuten manglet opplæring i forflytning.", "competence", None),
        ("Ergoterapeut og fysioterapeut fikk ikke tilbud om kurs.", "competence", None),
    ]
    after = CategoryModel.build(SHIPPED, examples).suggest(text)
    assert before[0].category != "competence"
    assert after[0].category == "competence"
    assert "Ergoterapeuten" in after[0].words


def test_a_long_text_is_quick(model: CategoryModel) -> None:
    sentence = ("Pasienten ble skrevet ut fra medisinsk avdeling uten epikrise, og "
                "hjemmesykepleien fikk ingen beskjed om endret dose av insulin. ")
    text = (sentence * 20)[:2000]
    model.suggest(text)
    started = time.perf_counter()
    for _ in range(20):
        model.suggest(text)
    assert (time.perf_counter() - started) / 20 < 0.020
