"""The published newsletter in Chromium: the public page (screenshot, axe-core: no serious
or critical violation, no report text, small counts suppressed) and the PDF rendered by
pdf.js (page 1 on a canvas, screenshot; its text holds the learning points and none of the
reports' text).

pdf.js comes from the npm registry like axe-core: `npm ci` in tests/browser/pdfjs (pinned
by its package-lock.json) the first time a test asks for it; without npm the test is
skipped, except in CI (CI=true). The screenshots are saved in the test's tmp dir and their
paths printed (pytest -s shows them).
"""

from __future__ import annotations

import fcntl
import functools
import http.server
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from intake import services
from tests.browser.conftest import IN_CI, ONE_WIDTH, running_meld
from tests.fakes import FakeClock
from tests.newsletter.conftest import AFTER, ASSIGNEE, GROUP, OWNER, SECRET, TERTIAL, Tertials
from tests.newsletter.conftest import seed as seed_tertial

PDFJS_DIR = Path(__file__).parent / "pdfjs"
PDFJS = PDFJS_DIR / "node_modules" / "pdfjs-dist"
SERIOUS = ("serious", "critical")
HARNESS = """<!doctype html>
<html lang="nb"><head><meta charset="utf-8"><title>PDF</title></head>
<body><canvas id="page1"></canvas>
<script type="module">
import * as pdfjsLib from "./build/pdf.min.mjs";
pdfjsLib.GlobalWorkerOptions.workerSrc = "./build/pdf.worker.min.mjs";
try {
  const pdf = await pdfjsLib.getDocument({url: "./newsletter.pdf",
                                          standardFontDataUrl: "./standard_fonts/"}).promise;
  const page = await pdf.getPage(1);
  const viewport = page.getViewport({scale: 1.5});
  const canvas = document.getElementById("page1");
  canvas.width = viewport.width;
  canvas.height = viewport.height;
  await page.render({canvasContext: canvas.getContext("2d"), canvas, viewport}).promise;
  const texts = [];
  for (let n = 1; n <= pdf.numPages; n++) {
    const content = await (await pdf.getPage(n)).getTextContent();
    texts.push(content.items.map((item) => item.str).join(" "));
  }
  window.pdfResult = {pages: pdf.numPages, text: texts.join("\\n")};
} catch (error) {
  window.pdfResult = {error: String(error)};
}
</script></body></html>
"""


@pytest.fixture(scope="session")
def pdfjs() -> Path:
    """pdfjs-dist, installed with npm from the pinned lock file when missing (under a file
    lock, as axe-core is)."""
    with open(PDFJS_DIR / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (PDFJS / "build" / "pdf.min.mjs").exists():
            npm = shutil.which("npm")
            if npm is None:
                if IN_CI:
                    raise RuntimeError("CI=true but npm is missing: it installs pdf.js")
                pytest.skip("npm is not installed: it installs pdf.js to render the PDF")
            done = subprocess.run(
                [npm, "ci", "--ignore-scripts", "--omit=optional", "--no-audit", "--no-fund",
                 "--loglevel=error"],
                cwd=PDFJS_DIR, capture_output=True, text=True, timeout=300, check=False)
            if done.returncode != 0 or not (PDFJS / "build" / "pdf.min.mjs").exists():
                if IN_CI:
                    raise RuntimeError(f"npm ci for pdf.js failed: {done.stderr[-2000:]}")
                pytest.skip(f"npm ci for pdf.js failed: {done.stderr[-300:]}")
    return PDFJS


class _Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript", ".pdf": "application/pdf"}

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def pdf_site(pdfjs: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A static site on loopback: the harness, pdf.js and (written by the test) the PDF."""
    root = tmp_path / "pdfjs-site"
    root.mkdir()
    (root / "index.html").write_text(HARNESS, encoding="utf-8")
    (root / "build").symlink_to(pdfjs / "build")
    (root / "standard_fonts").symlink_to(pdfjs / "standard_fonts")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def _publish(ctx: Any, clock: FakeClock) -> tuple[str, Tertials]:
    t = Tertials(ctx=ctx, clock=clock)
    seed_tertial(t)
    clock.now = AFTER
    services.edit_newsletter(ctx=ctx, actor=GROUP, tertial=TERTIAL,
                             title="Dette lærte vi – første tertial 2026",
                             introduction="Takk til alle som meldte avvik og ros i vinter.")
    services.approve_newsletter(ctx=ctx, actor=GROUP, tertial=TERTIAL)
    view = services.publish_newsletter(ctx=ctx, actor=GROUP, tertial=TERTIAL).view
    return view.slug, t


def _never(t: Tertials) -> list[str]:
    return [SECRET, ASSIGNEE, OWNER, "73 86 10 00", *t.references, *t.reporters]


def _serious(page: Any, axe_source: str) -> list[str]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source)
    result = page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag',
               values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})""")
    assert result["passes"], "axe checked nothing"
    return [f"{v['id']} ({v['impact']}): {v['help']}" for v in result["violations"]
            if v.get("impact") in SERIOUS]


@ONE_WIDTH
def test_the_published_page_in_chromium(sqlite_url: str, context: Any, axe_source: str,
                                         tmp_path: Path, width: int) -> None:
    clock = FakeClock(AFTER)
    with running_meld(sqlite_url, clock=clock, run_outbox_worker=False) as meld:
        slug, t = _publish(meld.ctx, clock)
        page = context.new_page()
        page.set_viewport_size({"width": 1280, "height": 900})
        response = page.goto(f"{meld.url}/nyhetsbrev/{slug}")
        assert response is not None and response.status == 200
        shot = tmp_path / "newsletter-page.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"\nnewsletter page screenshot: {shot}")
        assert shot.stat().st_size > 10_000
        assert page.title() == "Dette lærte vi – første tertial 2026"
        text = page.inner_text("body")
        for forbidden in _never(t):
            assert forbidden not in text, forbidden
        assert "Epikrisen sendes elektronisk samme dag som utskrivning." in text
        row = page.locator("tr", has_text="Legemidler").inner_text()
        assert row.split("\t")[1:] == ["færre enn 3", "færre enn 3", "–"]
        assert page.get_by_role("heading", name="Godt samarbeid (telles for seg)").count() == 1
        assert _serious(page, axe_source) == []
        page.set_viewport_size({"width": 390, "height": 900})  # a phone: no sideways scroll
        assert page.evaluate("document.documentElement.scrollWidth <= "
                             "document.documentElement.clientWidth + 1")
        assert _serious(page, axe_source) == []


@ONE_WIDTH
def test_the_pdf_rendered_by_pdfjs_in_chromium(sqlite_url: str, context: Any,
                                              pdf_site: tuple[str, Path], tmp_path: Path,
                                              width: int) -> None:
    clock = FakeClock(AFTER)
    with running_meld(sqlite_url, clock=clock, run_outbox_worker=False) as meld:
        slug, t = _publish(meld.ctx, clock)
        pdf = httpx.get(f"{meld.url}/nyhetsbrev/{slug}.pdf", timeout=30)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    url, root = pdf_site
    (root / "newsletter.pdf").write_bytes(pdf.content)
    page = context.new_page()
    page.set_viewport_size({"width": 1000, "height": 1400})
    page.goto(f"{url}/index.html")
    page.wait_for_function("window.pdfResult !== undefined", timeout=30_000)
    result = page.evaluate("window.pdfResult")
    assert "error" not in result, result
    shot = tmp_path / "newsletter-pdf-page1.png"
    page.locator("#page1").screenshot(path=str(shot))
    print(f"\nnewsletter PDF page 1 screenshot: {shot}")
    assert shot.stat().st_size > 10_000
    # the canvas is not blank: some pixels are dark (text was drawn)
    dark = page.evaluate("""() => {
        const c = document.getElementById('page1');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] < 100 && d[i + 3] > 0) n++;
        return n; }""")
    assert dark > 1000
    text = " ".join(result["text"].split())
    assert "Dette lærte vi - første tertial 2026" in text
    assert "Epikrisen sendes elektronisk samme dag som utskrivning." in text
    assert "færre enn 3" in text
    for forbidden in _never(t):
        assert forbidden not in text, forbidden
