"""Teams parts without a server: the app package, text helpers, cards, the fan-out notifier."""

from __future__ import annotations

import asyncio
import json
import zipfile
from datetime import date
from pathlib import Path

import pytest

from bot.teams import cards
from bot.teams.digest_card import digest_card
from bot.teams.door import command_text, html_to_text
from bot.teams.notifier import FanOutNotifier
from intake.cli.main import main
from intake.delivery.outbox import DeliveryError, Notification
from intake.domain.taxonomy import load_taxonomy
from intake.i18n import Translator
from intake.ops.teams_package import SOURCE, PackageError, build_package, png_size
from intake.settings import Settings

APP = "11111111-2222-3333-4444-555555555555"
TEAMS = {"teams_app_password": "secret", "teams_tenant_id": "t"}


def test_meld_teams_package_builds_the_app_zip(tmp_path: Path, capsys) -> None:
    out = tmp_path / "meld-teams.zip"
    settings = Settings(teams_app_id=APP, base_url="https://meld.example.no", **TEAMS)
    assert main(["teams-package", "--output", str(out)], settings=settings) == 0
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(zf.read("manifest.json"))
        assert png_size(zf.read("color.png")) == (192, 192)
        assert png_size(zf.read("outline.png")) == (32, 32)
    assert manifest["id"] == APP
    [bot] = manifest["bots"]
    assert bot["botId"] == APP
    assert set(bot["scopes"]) == {"personal", "team", "groupchat"}
    [command] = manifest["composeExtensions"][0]["commands"]
    assert (command["id"], command["type"], command["context"], command["fetchTask"]) == (
        "meld_message", "action", ["message"], True)
    assert command["title"] == "Meld som avvik"
    assert manifest["validDomains"] == ["meld.example.no"]
    assert manifest["developer"]["websiteUrl"].startswith("https://meld.example.no")


@pytest.mark.parametrize(("settings", "message"), [
    (Settings(base_url="https://meld.example.no"), "MELD_TEAMS_APP_ID"),
    (Settings(teams_app_id=APP, base_url="http://127.0.0.1:8000", **TEAMS), "https"),
    (Settings(teams_app_id="not-a-guid", base_url="https://meld.example.no", **TEAMS),
     "GUID"),
])
def test_teams_package_refuses_what_teams_would_refuse(tmp_path: Path, capsys,
                                                       settings: Settings,
                                                       message: str) -> None:
    out = tmp_path / "x.zip"
    assert main(["teams-package", "--output", str(out)], settings=settings) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_icons_of_the_wrong_size_are_refused(tmp_path: Path) -> None:
    for name in ("manifest.json", "color.png"):
        (tmp_path / name).write_bytes((SOURCE / name).read_bytes())
    (tmp_path / "outline.png").write_bytes((SOURCE / "color.png").read_bytes())
    with pytest.raises(PackageError, match="32x32"):
        build_package(tmp_path / "x.zip", app_id=APP, base_url="https://m.example.no",
                      source=tmp_path)


def test_message_text_as_people_read_it() -> None:
    assert html_to_text("<p>Hei <at>Kari</at>,</p><p>epikrise &lt;mangler&gt;<br>i dag</p>") \
        == "Hei @Kari,\nepikrise <mangler>\ni dag"
    assert command_text("<at>Meld</at> status MELD-2026-0001 triage") == \
        "status MELD-2026-0001 triage"
    assert command_text("<at>Meld</at>  tildel MELD-2026-0001 <at>Kari N</at>") == \
        "tildel MELD-2026-0001 <at>Kari N</at>"
    assert command_text("vis MELD-2026-0001 &amp; mer") == "vis MELD-2026-0001 & mer"


def test_read_form_takes_what_teams_sends_and_nothing_else() -> None:
    values = cards.read_form({"category": "medication/med_list", "no_ids": "true",
                              "confirm_warnings": "false", "key": "k" * 500,
                              "description": 5, "kind": ["x"]})
    assert (values["category"], values["subcategory"]) == ("medication", "med_list")
    assert values["no_ids"] is True and values["confirm_warnings"] is False
    assert len(values["key"]) == cards.KEY_MAX
    assert values["description"] == ""
    assert values["kind"] == "['x']"  # a string the service will refuse as a choice


def test_the_blank_form_is_cached_but_every_form_has_its_own_key() -> None:
    tr, taxonomy = Translator("nb", "Europe/Oslo"), load_taxonomy()
    a = cards.blank_report_form(tr, taxonomy, today=date(2026, 3, 2), key="a", text="x")
    b = cards.blank_report_form(tr, taxonomy, today=date(2026, 3, 2), key="b")
    assert a["actions"][0]["data"]["key"] == "a" and b["actions"][0]["data"]["key"] == "b"
    assert [e.get("value") for e in b["body"] if e.get("id") == "description"] == [None]
    assert [e.get("value") for e in a["body"] if e.get("id") == "description"] == ["x"]


def test_digest_card_says_an_empty_week_is_empty(ctx) -> None:
    from intake.reporting import digest_text
    from intake.reporting.digest import build_digest

    tr = Translator("nb", "Europe/Oslo")
    content = build_digest(ctx=ctx, week="2026-W10", now=ctx.clock())
    card = digest_card(content, tr)
    text = json.dumps(card, ensure_ascii=False)
    assert digest_text.title(content, tr) in text
    assert digest_text.summary_line(content, tr) in text
    assert tr("None.") in text  # nothing waiting


class _Recorder:
    channel = "group"

    def __init__(self, fail: DeliveryError | None = None) -> None:
        self.fail = fail
        self.notes: list[Notification] = []

    async def deliver(self, note: Notification) -> None:
        self.notes.append(note)
        if self.fail:
            raise self.fail


def _note() -> Notification:
    return Notification(id=1, channel="group", recipient="group", event="new_report",
                        payload={"reference": "MELD-2026-0001"}, reference="MELD-2026-0001",
                        locale="nb", message=None, attempt=1)


def test_the_group_channel_on_slack_and_teams_gets_every_card() -> None:
    slack, teams = _Recorder(), _Recorder()
    asyncio.run(FanOutNotifier("group", [slack, teams]).deliver(_note()))
    assert len(slack.notes) == len(teams.notes) == 1


def test_a_failure_on_one_platform_retries_the_row() -> None:
    slack, teams = _Recorder(), _Recorder(DeliveryError("teams_http_502"))
    with pytest.raises(DeliveryError) as err:
        asyncio.run(FanOutNotifier("group", [slack, teams]).deliver(_note()))
    assert err.value.code == "teams_http_502" and not err.value.permanent
    assert len(slack.notes) == 1


def test_teams_settings_come_as_a_set_of_three() -> None:
    from pydantic import ValidationError

    assert not Settings().teams_enabled
    assert Settings(teams_app_id=APP, **TEAMS).teams_enabled
    with pytest.raises(ValidationError, match="MELD_TEAMS_TENANT_ID"):
        Settings(teams_app_id=APP, teams_app_password="secret")
    with pytest.raises(ValidationError, match="MELD_TEAMS_APP_PASSWORD"):
        Settings(teams_app_id=APP, teams_tenant_id="t")
    s = Settings(teams_group_members=" 0B0B-X ,, y ", teams_service_urls="https://A.example/, "
                 "https://b.example:8443")
    assert s.teams_group_member_ids == {"0b0b-x", "y"}
    assert s.teams_service_origins == {"https://a.example", "https://b.example:8443"}


def test_written_words_are_never_read_as_markdown() -> None:
    tr = Translator("nb", "Europe/Oslo")
    words = "Se [her](https://phish.example) **nå**"
    card = cards.notice_card(tr, "Forbedringsgruppen har svart:", words, "MELD-2026-0001")
    blocks = [b for b in card["body"] if words in json.dumps(b, ensure_ascii=False)]
    assert [b["type"] for b in blocks] == ["RichTextBlock"]
    assert blocks[0]["inlines"] == [{"type": "TextRun", "text": words, "isSubtle": True}]
    detail = cards.text_card(words, title="MELD-2026-0001")
    assert [b["type"] for b in detail["body"]] == ["TextBlock", "RichTextBlock"]
