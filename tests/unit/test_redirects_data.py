"""redirects.toml: per target a name, guidance (nb, en) and a link; a site's file laid over
it field by field; malformed files refused at load. And the words and links it gives a
forwarding notice and the formal guidance, in each channel's form; and the chat forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.chat.parsing import Cmd, parse
from bot.teams import cards
from intake.domain.model import RedirectTarget
from intake.domain.redirects import RedirectsError, load_redirects
from intake.domain.taxonomy import TaxonomyError, load_taxonomy
from intake.i18n import Translator
from intake.texts import FORMAL_GUIDANCE, notice_links, notification_text

NB = Translator("nb")
EN = Translator("en")


def test_every_target_has_texts_and_the_public_ones_a_link() -> None:
    data = load_redirects()
    assert [g.target for g in data.guides] == list(RedirectTarget)
    for guide in data.guides:
        assert guide.nb and guide.en and guide.guidance_nb and guide.guidance_en
        assert "\n" not in guide.guidance_nb  # one paragraph, whatever the file's lines
    assert data.guide("melde_no").link == "https://www.melde.no/"
    assert data.guide("eqs").guidance("nb").startswith("Meld hendelsen i EQS på St. Olavs")
    assert data.guide("eqs").guidance("en").startswith("Report the event in EQS")
    assert data.guide("other").link is None
    assert [name for name, _url in data.formal_links("nb")] == [
        "EQS (St. Olavs kvalitetssystem)", "Compilo (kommunens kvalitetssystem)",
        "TQM (Trondheim kommunes kvalitetssystem)", "melde.no (Helsetilsynet)"]
    assert load_taxonomy().redirects == data


def test_a_site_file_is_laid_over_the_shipped_one_field_by_field(tmp_path: Path) -> None:
    (tmp_path / "redirects.toml").write_text(
        '[eqs]\nlink = "https://intranett.example/eqs"\n\n'
        '[other]\nnb = "Statsforvalteren"\nlink = "https://www.statsforvalteren.no/"\n'
        "formal_guidance = true\n", encoding="utf-8")
    data = load_taxonomy(tmp_path).redirects
    shipped = load_redirects()
    assert data.guide("eqs").link == "https://intranett.example/eqs"
    assert data.guide("eqs").guidance_nb == shipped.guide("eqs").guidance_nb
    assert data.guide("other").label("nb") == "Statsforvalteren"
    assert data.guide("other").label("en") == shipped.guide("other").en
    assert ("Statsforvalteren", "https://www.statsforvalteren.no/") in data.formal_links("nb")
    assert data.guide("tqm") == shipped.guide("tqm")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[fax]\nlink = "https://x.example/"\n', r"unknown target \[fax\]"),
        ('[eqs]\nlnk = "https://x.example/"\n', r"unknown field\(s\) lnk"),
        ('[eqs]\nguidance_nb = "  "\n', r"\[eqs\] needs a text in guidance_nb"),
        ('[tqm]\nlink = "javascript:alert(1)"\n', r"\[tqm\] link .* must be an https://"),
        ('[tqm]\nlink = "https://x.example/a b"\n', "must be an https://"),
        ('[tqm]\nlink = "https://x.example/|evil"\n', "must be an https://"),
        ('[eqs]\nformal_guidance = "yes"\n', "true or false"),
        ("eqs = 3\n", "must be a table"),
        ("[eqs\n", "not valid TOML"),
        (f'[eqs]\nguidance_en = "{"x" * 1001}"\n', "longer than 1000"),
    ],
)
def test_a_malformed_site_file_is_refused_naming_file_and_entry(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "redirects.toml").write_text(text, encoding="utf-8")
    with pytest.raises(RedirectsError, match=message):
        load_redirects(tmp_path)
    with pytest.raises(TaxonomyError, match=message) as err:  # what `meld` reports
        load_taxonomy(tmp_path)
    assert "redirects.toml" in str(err.value)


# ---------------------------------------------------------------- the notice's words


def redirected(**extra) -> dict:
    guide = load_redirects().guide("eqs")
    return {"reference": "MELD-2026-0042", "status": "redirected", "target": "eqs",
            "external_reference": "EQS-118", "guidance": guide.guidance_nb,
            "links": [[guide.nb, guide.link]], **extra}


def test_the_notice_has_the_guidance_and_a_plain_link_unless_the_channel_links_itself() -> None:
    payload = redirected()
    text = notification_text("status_changed", payload, NB, "email")
    assert "EQS-118" in text
    assert text.endswith(payload["guidance"] + "\n\nEQS (St. Olavs kvalitetssystem): "
                         "https://stolav.no/")
    chat = notification_text("status_changed", payload, NB, "slack", links=False)
    assert chat.endswith(payload["guidance"]) and "https://" not in chat
    # a notice written before this change carries neither: it reads as before
    old = {k: v for k, v in payload.items() if k not in ("guidance", "links")}
    assert notification_text("status_changed", old, NB).endswith("Deres referanse: EQS-118.")


def test_the_formal_guidance_notice() -> None:
    payload = {"reference": "MELD-2026-0042", "links": load_redirects().formal_links("en")}
    text = notification_text("formal_guidance", payload, EN)
    assert text.startswith("Forbedringsgruppen has read your report MELD-2026-0042.\n\n"
                           + FORMAL_GUIDANCE)
    assert "melde.no (Norwegian Board of Health Supervision): https://www.melde.no/" in text


def test_only_plain_http_links_are_rendered() -> None:
    payload = {"links": [["ok", "https://www.melde.no/"], ["js", "javascript:alert(1)"],
                         ["break out", "https://x.example/>|<!channel>"], ["short"], "x",
                         [1, "https://x.example/"]]}
    assert notice_links(payload) == [("ok", "https://www.melde.no/")]
    assert notice_links({}) == []


def test_a_teams_notice_card_has_a_button_per_link() -> None:
    card = cards.notice_card(NB, "Videresendt.", "Ring oss.", "MELD-2026-0042",
                             links=[("melde.no (Helsetilsynet)", "https://www.melde.no/")])
    assert card["actions"][0] == {"type": "Action.OpenUrl", "title": "melde.no (Helsetilsynet)",
                                  "url": "https://www.melde.no/"}
    assert card["actions"][-1]["title"] == "Svar"


# ---------------------------------------------------------------- the chat forms


@pytest.mark.parametrize(
    ("words", "args", "message"),
    [
        ("eqs", ("eqs",), ""),
        ("eqs EQS-2026-118", ("eqs", "EQS-2026-118"), ""),
        ("eqs 2026/118 Meld den også i EQS, takk.", ("eqs", "2026/118"),
         "Meld den også i EQS, takk."),
        ("tqm Vi har sendt den videre.", ("tqm",), "Vi har sendt den videre."),
        ('compilo "Sak 77" Se lenken.', ("compilo", "Sak 77"), "Se lenken."),
        ("annet Fylkeslegen -- 2 saker er slått sammen.", ("other", "Fylkeslegen"),
         "2 saker er slått sammen."),
        ("melde.no -- 3 pasienter var berørt, meld snarest", ("melde_no",),
         "3 pasienter var berørt, meld snarest"),
        ("annet Sak 77 / 2026 -- Hei", ("other", "Sak 77 / 2026"), "Hei"),
    ],
)
def test_videresend_reference_and_message(words: str, args: tuple, message: str) -> None:
    cmd = parse(f"videresend MELD-2026-0042 {words}")
    assert (cmd.name, cmd.error, cmd.args, cmd.text) == (Cmd.REDIRECT, None, args, message)
