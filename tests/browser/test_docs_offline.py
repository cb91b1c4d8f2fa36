"""/docs and /redoc work on a network that reaches nothing but Meld (no CDN)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import ONE_WIDTH, Meld


@pytest.fixture
def offline(context: Any, meld: Meld) -> list[str]:
    """Every request that does not go to Meld is aborted; the list records them."""
    attempts: list[str] = []

    def route(route: Any) -> None:
        if route.request.url.startswith(meld.url + "/"):
            route.continue_()
        else:
            attempts.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    return attempts


def _problems(page: Any) -> list[str]:
    problems: list[str] = []
    page.on("pageerror", lambda err: problems.append(f"script error: {err}"))
    page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"{r.status} {r.url}"))
    return problems


def test_swagger_ui_renders_the_operations_offline(meld: Meld, page: Any,
                                                   offline: list[str]) -> None:
    problems = _problems(page)
    response = page.goto(meld.url + "/docs")
    assert response is not None and response.status == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in csp and "unsafe-eval" not in csp
    assert "connect-src 'self'" in csp
    page.locator(".opblock").first.wait_for()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/reports" in {p.replace("\u200b", "") for p in paths}
    # an operation opens and shows its parameters and responses
    page.locator(".opblock-summary").first.click()
    page.locator(".opblock-body .responses-wrapper").first.wait_for()
    assert offline == [] and problems == []


def test_redoc_renders_offline(meld: Meld, page: Any, offline: list[str]) -> None:
    problems = _problems(page)
    response = page.goto(meld.url + "/redoc")
    assert response is not None and response.status == 200
    page.locator("[data-section-id^='operation/']").first.wait_for()
    assert page.locator("[data-section-id^='operation/']").count() >= 10
    assert "/api/v1/reports" in page.locator("main, .api-content").first.inner_text()
    assert offline == []
    # ReDoc's footer shows a logo from its CDN; the page's policy refuses it (so no request
    # leaves the machine, as `offline` shows), and it is the one complaint allowed
    assert [p for p in problems if "cdn.redoc.ly" not in p] == []


@ONE_WIDTH
def test_docs_assets_are_meld_s_own(meld: Meld, page: Any) -> None:
    html = page.request.get(meld.url + "/docs").text() + page.request.get(
        meld.url + "/redoc").text()
    assert "cdn.jsdelivr.net" not in html and "fonts.googleapis.com" not in html
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        assert f'"/static/{asset}"' in html, asset
        r = page.request.get(f"{meld.url}/static/{asset}")
        assert r.status == 200, asset
