"""Web pages: CSRF on every state change, SameSite cookies, a strict CSP without inline
code, no-store on report pages, and no report data in URLs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
from starlette.routing import Route

from intake import services
from intake.domain.model import Actor, Role
from storage import models as m
from tests.doors.conftest import Door, csrf_of, form_data, submit

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
MARK = "Pelikanepikrise-RK2"


def routes_of(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """(path, methods) of every route, also inside routers FastAPI keeps as included."""
    for route in routes:
        if hasattr(route, "original_router"):  # FastAPI >= 0.165 keeps included routers
            inner = prefix + getattr(route.include_context, "prefix", "")
            yield from routes_of(route.original_router.routes, inner)
        elif isinstance(route, Route):
            yield prefix + route.path, set(route.methods or ())


def web_state_changes(door: Door) -> set[tuple[str, str]]:
    """(method, path) of every route outside the API and Slack that is not a safe method."""
    return {(method, path) for path, methods in routes_of(door.app.routes)
            if not path.startswith(("/api/", "/slack/")) for method in methods - SAFE_METHODS}


# RFC 8058 one-click unsubscribe: the mail client POSTs "List-Unsubscribe=One-Click" with
# no page and no cookie, so there is no CSRF token to give. The status token in the path is
# the capability, and the only effect is that mails about that one report stop
# (tests/mail/test_mail_unsubscribe.py; an unknown token is a 404, checked below).
CSRF_EXEMPT = {("POST", "/status/{token}/epost-av")}


def test_the_one_click_stop_needs_the_status_token(door: Door) -> None:
    r = door.client().post("/status/" + "0" * 48 + "/epost-av",
                           data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 404


def test_every_web_state_change_needs_the_csrf_token(door: Door, api: httpx.Client) -> None:
    """The reporter's pages; the board's forms carry a token of the board's session instead
    (every one of them: tests/board/test_board_access.py)."""
    receipt = submit(api)
    token = receipt["status_url"].rsplit("/", 1)[1]
    changes = {(method, path) for method, path in web_state_changes(door) - CSRF_EXEMPT
               if not path.startswith("/gruppe")}
    assert changes >= {("POST", "/"), ("POST", "/status/{token}")}  # a new one is tested too
    browser = door.client()
    good = csrf_of(browser.get("/").text)
    other = csrf_of(door.client().get("/").text)  # valid, but for another browser's session
    before = (door.report_count(), door.count(m.Message))
    for method, path in sorted(changes):
        url = path.replace("{token}", token)
        body = form_data(good, description=f"{MARK} uten skjematoken", text=f"{MARK} svar")
        altered = good[:-1] + ("1" if good[-1] == "0" else "0")
        for csrf in (None, "", "0" * 64, altered, other):
            data = {k: v for k, v in body.items() if k != "csrf"}
            if csrf is not None:
                data["csrf"] = csrf
            r = browser.request(method, url, data=data)
            assert r.status_code == 403, (method, path, csrf)
            assert "Skjemaet er utløpt" in r.text or "utløpt" in r.text
            assert MARK not in r.text
        # the same post with the page's token goes through (the check is the only refusal)
        assert browser.request(method, url, data=body).status_code != 403, (method, path)
    # the report forms file a report each; "this happened to me too" (/meld/ogsa/) files none
    forms = sum(1 for _method, path in changes
                if not path.startswith(("/status/", "/meld/ogsa/")))
    assert (door.report_count(), door.count(m.Message)) == (before[0] + forms,
                                                                     before[1] + 1)


def test_cookies_are_samesite_strict_and_httponly(door: Door) -> None:
    r = door.client().get("/", params={"lang": "en"})
    cookies = r.headers.get_list("set-cookie")
    assert {c.split("=", 1)[0] for c in cookies} == {"meld_session", "meld_lang"}
    for cookie in cookies:
        attrs = {p.strip().lower() for p in cookie.split(";")[1:]}
        assert {"samesite=strict", "httponly"} <= attrs, cookie


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.urls: list[str] = []
        self.forms: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script" and not a.get("src"):
            self.inline.append("inline <script>")
        if tag == "style":
            self.inline.append("<style>")
        self.inline += [f"{tag}[{k}]" for k in a if k == "style" or k.startswith("on")]
        self.urls += [v for k, v in attrs if k in ("href", "src", "action") and v]
        if tag == "form":
            self.forms.append((a.get("method") or "get").lower())


def _pages(door: Door, api: httpx.Client) -> dict[str, httpx.Response]:
    receipt = submit(api, description=f"{MARK} epikrise manglet", place_text=f"{MARK} sted")
    token = receipt["status_url"].rsplit("/", 1)[1]
    services.reply(ctx=door.ctx, actor=Actor("token:1:kari", Role.TRIAGER),
                   reference=receipt["reference"], text=f"{MARK} svar fra gruppa")
    door.drain_outbox()
    browser = door.client()
    csrf = csrf_of(browser.get("/").text)
    posted = browser.post("/", data=form_data(csrf, description=f"{MARK} fra skjemaet"))
    link = services.report_link(ctx=door.ctx, actor=Actor("token:1:kari", Role.TRIAGER),
                                period="2026").rsplit("/", 1)[1]
    return {
        "form": browser.get("/"),
        "form_refused": browser.post("/", data=form_data(csrf, kind="")),
        "posted": posted,
        "status": browser.get(f"/status/{token}"),
        "status_new": browser.get(posted.headers["location"]),
        "mine": browser.get("/mine"),
        "period_report": browser.get(f"/rapport/{link}"),
        "not_found": browser.get("/status/" + "0" * 48),
        "csrf_refused": door.client().post("/", data={"description": MARK}),
    }


def test_every_page_has_a_strict_csp_no_store_and_no_inline_code(door: Door,
                                                                   api: httpx.Client) -> None:
    for name, r in _pages(door, api).items():
        headers = r.headers
        csp = dict(d.strip().split(" ", 1) for d in headers["content-security-policy"].split(";"))
        assert csp["frame-ancestors"] == "'none'" and csp["base-uri"] == "'none'", name
        if name == "period_report":
            # one self-contained document with inline CSS: styles inline, nothing else at all
            assert csp == {"default-src": "'none'", "style-src": "'unsafe-inline'",
                           "img-src": "data:", "frame-ancestors": "'none'",
                           "base-uri": "'none'", "form-action": "'none'"}
            outside = re.sub(r'xmlns(:\w+)?="[^"]*"', "", r.text)
            assert "<script" not in r.text and not re.search(r"https?://", outside)
        else:
            assert csp["default-src"] == "'self'", name
            assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'", name
            assert csp["form-action"] == "'self'", name
            assert "unsafe" not in headers["content-security-policy"], name
        # the blank form holds no report: the browser may keep it for Back (never a proxy)
        expected = "private, no-cache" if name == "form" else "no-store"
        assert headers["cache-control"] == expected, name
        assert headers["referrer-policy"] == "no-referrer", name  # status links stay private
        assert headers["x-content-type-options"] == "nosniff", name
        if r.status_code == 303:
            continue
        page = _Page()
        page.feed(r.text)
        if name != "period_report":
            assert page.inline == [], (name, page.inline)
        assert set(page.forms) <= {"post"}, name  # nothing typed travels in a URL
        for url in page.urls:
            assert MARK not in url and "epikrise" not in url.lower(), (name, url)


def test_no_report_data_in_urls(door: Door, api: httpx.Client) -> None:
    pages = _pages(door, api)
    location = pages["posted"].headers["location"]
    assert re.fullmatch(r"/status/[0-9a-f]{48}\?ny=1", location)
    receipt = submit(api)
    assert re.fullmatch(r"http://127\.0\.0\.1:8000/status/[0-9a-f]{48}", receipt["status_url"])
    assert MARK in pages["status"].text  # the page shows the report; its URL does not
    assert MARK not in pages["posted"].headers["location"]
