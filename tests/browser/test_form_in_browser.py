"""A doctor files a report in a real browser (headless Chromium) and finds it in the CLI."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from faker import Faker

from intake.app import create_app
from intake.cli import main
from intake.settings import Settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
sync_api = pytest.importorskip("playwright.sync_api")

if not Path(CHROMIUM).exists():
    if os.environ.get("CI", "").lower() == "true":
        raise RuntimeError("CI=true but Chromium is missing; .ci/run installs it")
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture
def server(sqlite_url: str) -> Iterator[tuple[str, Settings]]:
    settings = Settings(database_url=sqlite_url, secret_key="browser-test",
                        outbox_poll_seconds=0.2)
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=0,
                            log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", settings
    srv.should_exit = True
    thread.join(timeout=10)


def test_a_report_filed_in_the_browser_reaches_the_group(server, capsys) -> None:
    base, settings = server
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )
        page = browser.new_page(locale="nb-NO")
        page.goto(base + "/")
        page.get_by_label("Avvik").check()
        page.get_by_label("Kategori").select_option("referral")
        page.get_by_label("Hva skjedde?").fill(
            "Henvisning ble returnert uten begrunnelse. Pasient 12345678901 ventet."
        )
        page.get_by_label("Hvor? (sykehusavdeling eller kommune)").select_option("melhus")
        page.get_by_label("Moderat skade").check()
        page.get_by_label("Teksten inneholder ingen pasientidentifiserende opplysninger").check()
        page.get_by_role("button", name="Send meldingen").click()
        # an 11-digit number that passes no identity-number rule is not refused
        assert "/status/" in page.url, "a plain 11-digit order number was refused"
        ref = page.locator("h1").inner_text()
        assert ref.startswith("MELD-")
        assert "Takk! Meldingen din er mottatt" in page.content()

        # the same browser lists it under "Mine meldinger"
        page.get_by_role("link", name="Mine meldinger").click()
        assert page.get_by_role("link", name=ref).is_visible()

        # an identity number is refused and the text stays in the form
        page.goto(base + "/")
        fnr = Faker("no_NO").ssn()
        text = f"Epikrise mangler for pasient {fnr[:6]} {fnr[6:]} etter utskriving."
        page.get_by_label("Hva skjedde?").fill(text)
        page.get_by_label("Kategori").select_option("discharge_summary")
        page.get_by_label("Ingen eller ubetydelig konsekvens").check()
        page.get_by_label("Teksten inneholder ingen pasientidentifiserende opplysninger").check()
        page.get_by_role("button", name="Send meldingen").click()
        assert "/status/" not in page.url
        assert page.get_by_label("Hva skjedde?").input_value() == text
        assert "fødselsnummer" in page.locator("#description-error").inner_text()
        browser.close()

    assert main(["reports", "list"], settings=settings) == 0
    listed = capsys.readouterr().out
    assert ref in listed and "Henvisning" in listed
    assert listed.count("MELD-") == 1  # the refused one was never stored
