"""The triage command language, parsing only: keywords, references, quotes, words, mentions."""

from __future__ import annotations

import pytest

from bot.chat.parsing import (
    Cmd,
    ParseError,
    default_assignee,
    help_text,
    normalize_reference,
    parse,
    slack_user_id,
    split_words,
)
from intake.i18n import Translator

REF = "MELD-2026-0042"


@pytest.mark.parametrize("text", ["", "   ", "hjelp", "HJELP", "help", "?", "\n"])
def test_empty_input_and_hjelp_ask_for_help(text: str) -> None:
    assert parse(text).name == Cmd.HELP


@pytest.mark.parametrize("text", ["slett MELD-2026-0042", "foo", "MELD-2026-0042", "vis_alt"])
def test_unknown_keyword_is_named(text: str) -> None:
    cmd = parse(text)
    assert cmd.name == Cmd.UNKNOWN
    assert cmd.word == text.split()[0]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("vis meld-2026-0042", Cmd.SHOW),
        ("VIS MELD-2026-0042", Cmd.SHOW),
        ("Vurder MELD-2026-0042", Cmd.ASSESS),
        ("gjenåpne MELD-2026-0042", Cmd.REOPEN),
        ("gjenapne MELD-2026-0042", Cmd.REOPEN),
        ("gjena\u030apne MELD-2026-0042", Cmd.REOPEN),  # decomposed å, as macOS sends it
        ("+1 MELD-2026-0042", Cmd.PLUS_ONE),
        ("lukk MELD-2026-0042", Cmd.CLOSE),
    ],
)
def test_keywords_are_case_insensitive_and_references_normalised(text: str, name: Cmd) -> None:
    cmd = parse(text)
    assert (cmd.name, cmd.reference, cmd.error) == (name, REF, None)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("MELD-2026-0042", REF),
        ("meld-2026-0042", REF),
        ("MELD-2026-42", REF),
        ("MELD-2026-0042:", REF),
        ("MELD–2026–0042", REF),  # en dashes from autocorrect
        ("MELD-2026-12345", "MELD-2026-12345"),
        ("2026-0042", None),
        ("MELD-26-0042", None),
        ("MELD-2026-", None),
        ("kari", None),
    ],
)
def test_normalize_reference(word: str, expected: str | None) -> None:
    assert normalize_reference(word) == expected


def test_missing_and_malformed_references_are_parse_errors() -> None:
    assert parse("vis").error == ParseError.MISSING_REFERENCE
    bad = parse("svar 2026-42 hei")
    assert (bad.name, bad.error, bad.bad) == (Cmd.REPLY, ParseError.BAD_REFERENCE, "2026-42")
    assert parse("vis MELD-2026-0042 ekstra").error == ParseError.UNKNOWN_WORD


def test_free_text_after_the_reference_is_verbatim() -> None:
    text = "svar MELD-2026-0042   Takk!  Vi har  sendt «dette» videre;\n  se rutine 4.2 ... "
    cmd = parse(text)
    assert cmd.name == Cmd.REPLY
    assert cmd.text == "Takk!  Vi har  sendt «dette» videre;\n  se rutine 4.2 ..."


def test_free_text_keeps_quotes_and_apostrophes() -> None:
    cmd = parse('notat MELD-2026-0042 "Ring" avdelingen; de sa \'ok\' og gruppen\'s svar')
    assert cmd.text == '"Ring" avdelingen; de sa \'ok\' og gruppen\'s svar'


@pytest.mark.parametrize("text", ["svar MELD-2026-0042", "notat MELD-2026-0042   ",
                                  "trenger-info MELD-2026-0042"])
def test_free_text_commands_need_text(text: str) -> None:
    assert parse(text).error == ParseError.MISSING_ARGUMENT


@pytest.mark.parametrize("text", ["trenger-info MELD-2026-0042 Når skjedde det?",
                                  "trenger info MELD-2026-0042 Når skjedde det?",
                                  "Trenger Info MELD-2026-0042 Når skjedde det?"])
def test_trenger_info_in_one_or_two_words(text: str) -> None:
    cmd = parse(text)
    assert (cmd.name, cmd.reference, cmd.text) == (Cmd.REQUEST_INFO, REF, "Når skjedde det?")


@pytest.mark.parametrize(
    ("words", "status"),
    [
        ("vurdering", "triage"),
        ("under-vurdering", "triage"),
        ("under vurdering", "triage"),
        ("Under-Vurdering", "triage"),
        ("triage", "triage"),
        ("tiltak", "in_progress"),
        ("pågår", "in_progress"),
        ("tiltak pågår", "in_progress"),
        ("in_progress", "in_progress"),
        ("avvist", "rejected"),
        ("REJECTED", "rejected"),
        ("lukket", "closed"),  # parsed; the service refuses it with its own sentence
        ("videresendt", "redirected"),
        ("duplikat", "duplicate"),
    ],
)
def test_status_words_in_norwegian_or_as_ids(words: str, status: str) -> None:
    cmd = parse(f"status MELD-2026-0042 {words}")
    assert (cmd.name, cmd.args, cmd.text, cmd.error) == (Cmd.STATUS, (status,), "", None)


def test_status_with_message_to_the_reporter() -> None:
    cmd = parse("status MELD-2026-0042 tiltak  Vi har tatt saken opp med klinikken.")
    assert cmd.args == ("in_progress",)
    assert cmd.text == "Vi har tatt saken opp med klinikken."
    cmd = parse("status MELD-2026-0042 avvist Dette hører til EQS.")
    assert (cmd.args, cmd.text) == (("rejected",), "Dette hører til EQS.")


def test_status_unknown_word_and_missing_word() -> None:
    cmd = parse("status MELD-2026-0042 ferdig")
    assert (cmd.error, cmd.bad) == (ParseError.UNKNOWN_WORD, "ferdig")
    assert parse("status MELD-2026-0042").error == ParseError.MISSING_ARGUMENT


@pytest.mark.parametrize(
    ("text", "status", "kind", "categories"),
    [
        ("liste", None, None, ()),
        ("liste mottatt", "received", None, ()),
        ("liste referral", None, None, ("referral",)),
        ("liste referral under-vurdering", "triage", None, ("referral",)),
        ("LISTE needs_info avvik epikrise", "needs_info", "deviation", ("epikrise",)),
        ('liste "Varsling ved innleggelse/utskriving"', None, None,
         ("Varsling ved innleggelse/utskriving",)),
    ],
)
def test_liste_filters_in_any_order(text: str, status: str | None, kind: str | None,
                                    categories: tuple[str, ...]) -> None:
    cmd = parse(text)
    assert cmd.name == Cmd.LIST and cmd.error is None
    assert cmd.options.get("status") == status
    assert cmd.options.get("kind") == kind
    assert cmd.args == categories


def test_liste_refuses_a_second_unknown_word() -> None:
    cmd = parse("liste referral medication")
    assert (cmd.error, cmd.bad) == (ParseError.UNKNOWN_WORD, "medication")


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ("tildel MELD-2026-0042 <@U123ABC>", "<@U123ABC>"),
        ("tildel MELD-2026-0042 <@U123ABC|kari>", "<@U123ABC|kari>"),
        ("tildel MELD-2026-0042 @kari", "@kari"),
        ("tildel MELD-2026-0042 Kari Nordmann", "Kari Nordmann"),
        ('tildel MELD-2026-0042 "Kari Nordmann"', "Kari Nordmann"),
    ],
)
def test_tildel_keeps_the_person_as_typed(text: str, raw: str) -> None:
    cmd = parse(text)
    assert (cmd.name, cmd.reference, cmd.text) == (Cmd.ASSIGN, REF, raw)


def test_tildel_needs_a_person() -> None:
    assert parse("tildel MELD-2026-0042").error == ParseError.MISSING_ARGUMENT


@pytest.mark.parametrize(
    ("raw", "user", "assignee"),
    [
        ("<@U123ABC>", "U123ABC", "U123ABC"),
        ("<@U123ABC|kari>", "U123ABC", "U123ABC"),
        ("@kari", None, "kari"),
        ("kari", None, "kari"),
        ("<at>Kari Nordmann</at>", None, "Kari Nordmann"),
        ("<@W0ENTERPRISE|ola>", "W0ENTERPRISE", "W0ENTERPRISE"),
    ],
)
def test_mentions(raw: str, user: str | None, assignee: str) -> None:
    assert slack_user_id(raw) == user
    assert default_assignee(raw) == assignee


def test_vurder_without_arguments_opens_a_form() -> None:
    cmd = parse("vurder MELD-2026-0042")
    assert (cmd.name, cmd.reference, dict(cmd.options)) == (Cmd.ASSESS, REF, {})


def test_vurder_key_value_arguments_with_quotes() -> None:
    cmd = parse('vurder MELD-2026-0042 alvorlighet=moderate kategori=referral '
                'retningslinje="Delavtale 4.2: epikrise samme dag" brudd=ja')
    assert dict(cmd.options) == {
        "severity": "moderate",
        "category": "referral",
        "agreement": "Delavtale 4.2: epikrise samme dag",
        "breached": "true",
    }


def test_vurder_norwegian_severity_words_and_typographic_quotes() -> None:
    cmd = parse("vurder meld-2026-42 Alvorlighet=betydelig retningslinje=“Punkt «5» i avtalen” "
                "underkategori=missing brudd=nei")
    assert dict(cmd.options) == {
        "severity": "significant",
        "agreement": "Punkt «5» i avtalen",
        "subcategory": "missing",
        "breached": "false",
    }


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("vurder MELD-2026-0042 alvorlighet=forferdelig", "forferdelig"),
        ("vurder MELD-2026-0042 farge=rød", "farge=rød"),
        ("vurder MELD-2026-0042 moderat", "moderat"),
        ("vurder MELD-2026-0042 brudd=kanskje", "kanskje"),
    ],
)
def test_vurder_refuses_what_it_does_not_know(text: str, bad: str) -> None:
    cmd = parse(text)
    assert (cmd.error, cmd.bad) == (ParseError.UNKNOWN_WORD, bad)


def test_lukk_with_both_texts_and_apostrophes() -> None:
    cmd = parse("lukk MELD-2026-0042 læring=\"Gruppen's rutine var ukjent\" "
                "tiltak='Rutinen er sendt ut på nytt'")
    assert dict(cmd.options) == {"learning": "Gruppen's rutine var ukjent",
                                 "measure": "Rutinen er sendt ut på nytt"}


def test_lukk_with_one_text_only_is_missing_the_other() -> None:
    assert parse('lukk MELD-2026-0042 læring="x"').error == ParseError.MISSING_ARGUMENT
    assert parse("lukk MELD-2026-0042 tiltak=").error == ParseError.MISSING_ARGUMENT
    assert parse("lukk MELD-2026-0042 ferdig").error == ParseError.UNKNOWN_WORD


@pytest.mark.parametrize(
    ("words", "target", "external"),
    [
        ("eqs", "eqs", ""),
        ("EQS 2026-1234", "eqs", "2026-1234"),
        ('compilo  "Sak 77 / 2026"', "compilo", "Sak 77 / 2026"),
        ("compilo Sak 77 / 2026 --", "compilo", "Sak 77 / 2026"),
        ("tqm", "tqm", ""),
        ("melde_no", "melde_no", ""),
        ("melde.no", "melde_no", ""),
        ('annet "Fylkeslegen"', "other", "Fylkeslegen"),
        ('annet "Statsforvalteren i Trøndelag"', "other", "Statsforvalteren i Trøndelag"),
    ],
)
def test_videresend_targets(words: str, target: str, external: str) -> None:
    cmd = parse(f"videresend MELD-2026-0042 {words}")
    args = (target, external) if external else (target,)
    assert (cmd.name, cmd.args, cmd.text, cmd.error) == (Cmd.REDIRECT, args, "", None)


def test_videresend_unknown_target_and_missing_target() -> None:
    cmd = parse("videresend MELD-2026-0042 helsenorge")
    assert (cmd.error, cmd.bad) == (ParseError.UNKNOWN_WORD, "helsenorge")
    assert parse("videresend MELD-2026-0042").error == ParseError.MISSING_ARGUMENT


def test_duplikat_needs_another_reference() -> None:
    cmd = parse("duplikat MELD-2026-0042 meld-2026-7")
    assert (cmd.name, cmd.reference, cmd.args) == (Cmd.DUPLICATE, REF, ("MELD-2026-0007",))
    assert parse("duplikat MELD-2026-0042").error == ParseError.MISSING_ARGUMENT
    bad = parse("duplikat MELD-2026-0042 den-andre")
    assert (bad.error, bad.bad) == (ParseError.BAD_REFERENCE, "den-andre")


def test_split_words_is_shlex_like_and_never_fails() -> None:
    assert [w.value for w in split_words('a  "b c" d="e f" g')] == ["a", "b c", "d=e f", "g"]
    assert [w.value for w in split_words("gruppen's 'svar'")] == ["gruppen's", "svar"]
    assert [w.value for w in split_words('x="uten slutt')] == ["x=uten slutt"]
    assert [w.value for w in split_words("ære\u00a0være")] == ["ære", "være"]


@pytest.mark.parametrize("text", ['"', "'", "=", "vis \"", 'lukk MELD-2026-0042 læring="',
                                  "status MELD-2026-0042 «", "\x00", "+1", "tildel"])
def test_odd_input_never_raises(text: str) -> None:
    parse(text)


def test_help_text_lists_every_keyword_in_both_languages() -> None:
    for locale in ("nb", "en"):
        text = help_text(Translator(locale))
        for keyword in ("liste", "vis", "vurder", "tildel", "status", "svar", "trenger-info",
                        "notat", "videresend", "duplikat", "lukk", "gjenåpne", "+1", "hjelp"):
            assert keyword in text
    assert "svar REF tekst" in help_text(Translator("nb"))
    assert "svar REF text" in help_text(Translator("en"))
