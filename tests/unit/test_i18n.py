"""The message catalogue: every source string has a bokmål text, placeholders agree."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from importlib import resources

from babel.messages.pofile import read_po

from intake.catalog import extract_msgids
from intake.i18n import Translator, normalize_locale

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _nb_catalog():
    po = resources.files("intake").joinpath("locale", "nb", "LC_MESSAGES", "messages.po")
    with po.open("rb") as fh:
        return read_po(fh, locale="nb")


def test_every_source_string_has_a_bokmal_text() -> None:
    catalog = _nb_catalog()
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(extract_msgids() - translated)
    assert missing == [], f"add these to messages.po: {missing}"


def test_no_stale_entries_and_placeholders_agree() -> None:
    used = extract_msgids()
    for message in _nb_catalog():
        if not message.id:
            continue
        assert message.id in used, f"unused entry in messages.po: {message.id!r}"
        assert set(PLACEHOLDER.findall(message.id)) == set(
            PLACEHOLDER.findall(message.string)
        ), message.id


def test_bokmal_is_default_and_english_available() -> None:
    msgid = "Thank you! Your report has been received with reference {reference}."
    assert Translator()(msgid, reference="MELD-2026-0001") == (
        "Takk! Meldingen din er mottatt med referanse MELD-2026-0001."
    )
    assert Translator("en")(msgid, reference="MELD-2026-0001").startswith("Thank you!")


def test_locale_normalisation() -> None:
    assert normalize_locale("nb_NO") == "nb"
    assert normalize_locale("no") == "nb"
    assert normalize_locale("en-GB") == "en"
    assert normalize_locale("de") == "nb"
    assert normalize_locale(None) == "nb"


def test_times_are_shown_in_oslo_time_across_dst() -> None:
    tr = Translator("nb")
    winter = datetime(2026, 1, 15, 7, 0, tzinfo=UTC)  # 08:00 CET
    summer = datetime(2026, 7, 15, 6, 0, tzinfo=UTC)  # 08:00 CEST
    assert "08:00" in tr.datetime(winter)
    assert "08:00" in tr.datetime(summer)
    assert tr.local_date(datetime(2026, 4, 30, 22, 30, tzinfo=UTC)) == date(2026, 5, 1)
    assert tr.date(date(2026, 5, 17)) == "17. mai 2026"


def test_accept_language_respects_quality_values() -> None:
    from intake.i18n import from_accept_language

    assert from_accept_language("en;q=0.8") == "en"
    assert from_accept_language("de-DE,en;q=0.5,nb;q=0.9") == "nb"
    assert from_accept_language("en-GB,en;q=0.9,nb;q=0.8") == "en"
    assert from_accept_language("fr, de;q=0.5") == "nb"
    assert from_accept_language("en;q=0, nb") == "nb"
    assert from_accept_language("en;q=abc") == "nb"
    assert from_accept_language(None, default="en") == "en"
