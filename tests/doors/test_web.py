"""The server-rendered web form and status pages, as a browser without JavaScript uses them."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
from faker import Faker
from markupsafe import escape

from intake import services
from intake.i18n import Translator
from intake.texts import ERROR_TEXTS
from storage import models as m
from tests.doors.conftest import (
    GROUP,
    REFERENCE_RE,
    STATUS_PATH_RE,
    SUBMISSION_RE,
    Door,
    csrf_of,
    form_data,
    status_token,
    submit,
)

RECEIPT_NB = "Takk! Meldingen din er mottatt med referanse {reference}."
PHONE_TEXT = "Ring vakthavende på 918 76 543 om epikrisen."


class _Controls(HTMLParser):
    """Form controls in a page and how each is labelled."""

    def __init__(self) -> None:
        super().__init__()
        self.label_depth = 0
        self.label_for: set[str] = set()
        self.ids: set[str] = set()
        self.controls: list[tuple[str | None, str | None, bool]] = []  # name, id, wrapped

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if tag == "label":
            self.label_depth += 1
            if a.get("for"):
                self.label_for.add(a["for"] or "")
        elif tag in ("input", "select", "textarea"):
            if tag == "input" and a.get("type") in ("hidden", "submit", "button"):
                return
            self.controls.append((a.get("name"), a.get("id"), self.label_depth > 0))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.label_depth -= 1


def _controls(html: str) -> _Controls:
    parser = _Controls()
    parser.feed(html)
    parser.close()
    return parser


def _set_cookie(response: httpx.Response, name: str) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers}")


def _timeline(html: str) -> str:
    """The 'news on your report' list, or '' when there is none."""
    found = re.search(r'<ol class="timeline">(.*?)</ol>', html, re.S)
    return found.group(1) if found else ""


def _dialog(html: str) -> str:
    found = re.search(r'<ol class="dialog">(.*?)</ol>', html, re.S)
    return found.group(1) if found else ""


def _open_form(door: Door) -> tuple[httpx.Client, str]:
    """A browser that has loaded the form: its client and the page's csrf token."""
    browser = door.client()
    page = browser.get("/")
    assert page.status_code == 200
    return browser, csrf_of(page.text)


def _send(door: Door, **overrides: str) -> tuple[httpx.Client, str]:
    """Fill in and send the form; returns the browser and the status path it was sent to."""
    browser, csrf = _open_form(door)
    r = browser.post("/", data=form_data(csrf, **overrides))
    assert r.status_code == 303, r.text
    assert STATUS_PATH_RE.match(r.headers["location"]), r.headers["location"]
    return browser, r.headers["location"]


# ---------------------------------------------------------------- the form page


def test_form_page_labels_cookie_and_headers(door: Door) -> None:
    r = door.client().get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<html lang="nb">' in html

    controls = _controls(html)
    names = {name for name, _id, _wrapped in controls.controls}
    for field in ("kind", "category", "description", "occurred_on", "severity", "place",
                  "place_text", "reporter_party", "concerned_party", "no_patient_identifiers",
                  "subcategory_discharge_summary"):
        assert field in names, field
    for field in ("category", "description", "occurred_on", "place", "place_text",
                  "reporter_party", "concerned_party"):
        assert f'<label for="{field}">' in html, field
    for name, id_, wrapped in controls.controls:
        assert wrapped or (id_ and id_ in controls.label_for), f"{name} has no label"
    assert controls.label_for <= controls.ids, "a label points at no control"

    cookie = _set_cookie(r, "meld_session")
    attrs = [p.strip().lower() for p in cookie.split(";")]
    assert "httponly" in attrs
    assert "samesite=strict" in attrs
    assert "path=/" in attrs
    assert len(cookie.split(";")[0].split("=", 1)[1]) == 43

    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"


def test_session_cookie_is_set_once(door: Door) -> None:
    browser = door.client()
    first = browser.get("/")
    assert "meld_session=" in first.headers.get("set-cookie", "")
    second = browser.get("/")
    assert "meld_session=" not in second.headers.get("set-cookie", "")
    assert csrf_of(first.text) == csrf_of(second.text)


# ---------------------------------------------------------------- csrf


def test_post_without_csrf_is_403_and_nothing_stored(door: Door) -> None:
    browser, csrf = _open_form(door)
    data = form_data(csrf)
    del data["csrf"]
    r = browser.post("/", data=data)
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/html")
    assert "<h1>" in r.text and "<form" not in r.text  # the error page, not the form
    # a token from another browser does not work either
    _other, other_csrf = _open_form(door)
    assert browser.post("/", data=form_data(other_csrf)).status_code == 403
    # nor does a token without the session cookie
    assert door.client().post("/", data=form_data(csrf)).status_code == 403
    assert door.report_count() == 0


# ---------------------------------------------------------------- submit


def test_post_valid_form_redirects_to_status_with_receipt(door: Door) -> None:
    """Depends on the nb catalogue (receipt first line)."""
    browser, location = _send(door)
    assert door.report_count() == 1
    (reference,) = door.references()
    r = browser.get(location)
    assert r.status_code == 200
    assert f"<h1>{reference}</h1>" in r.text
    assert RECEIPT_NB.format(reference=reference) in r.text
    assert "Epikrise kom aldri fram til fastlegen etter utskriving." in r.text
    # without ?ny=1 the receipt is not repeated
    plain = browser.get(location.split("?")[0])
    assert plain.status_code == 200
    assert RECEIPT_NB.format(reference=reference) not in plain.text
    assert reference in plain.text


def test_form_in_english(door: Door) -> None:
    browser = door.client()
    page = browser.get("/?lang=en")
    assert '<html lang="en">' in page.text
    assert "meld_lang=en" in " ".join(page.headers.get_list("set-cookie"))
    r = browser.post("/", data=form_data(csrf_of(page.text)))
    assert r.status_code == 303
    status = browser.get(r.headers["location"])
    (reference,) = door.references()
    assert f"Thank you! Your report has been received with reference {reference}." in (
        status.text)


def test_national_identity_number_gives_422_page_with_text_kept(door: Door) -> None:
    """Depends on the nb catalogue (patient_identifier text)."""
    fake = Faker("no_NO")
    fake.seed_instance(1944)
    ssn = fake.ssn()
    text = f'Pasient <b>{ssn[:6]} {ssn[6:]}</b> fikk "feil" epikrise & ingen beskjed.'
    browser, csrf = _open_form(door)
    r = browser.post("/", data=form_data(csrf, description=text))
    assert r.status_code == 422, r.text
    html = r.text
    textarea = re.search(r'<textarea id="description"[^>]*>(.*?)</textarea>', html, re.S)
    assert textarea, "no description textarea"
    assert textarea.group(1) == str(escape(text))
    assert "<b>" not in textarea.group(1)
    nb_error = Translator("nb")(ERROR_TEXTS["patient_identifier"])
    assert nb_error != ERROR_TEXTS["patient_identifier"]
    assert str(escape(nb_error)) in html
    assert 'aria-invalid="true"' in html
    assert door.stored_nothing()
    # the same draft is not stored when the warnings checkbox is sent along
    r = browser.post("/", data=form_data(csrf, description=text, confirm_warnings="on"))
    assert r.status_code == 422
    assert door.stored_nothing()


def test_phone_number_warning_then_confirm(door: Door) -> None:
    browser, csrf = _open_form(door)
    r = browser.post("/", data=form_data(csrf, description=PHONE_TEXT))
    assert r.status_code == 422, r.text
    assert 'name="confirm_warnings"' in r.text
    assert str(escape(PHONE_TEXT)) in r.text
    assert door.report_count() == 0
    # the browser sends the re-rendered form again with the box ticked
    submission_id = SUBMISSION_RE.search(r.text).group(1)
    r = browser.post("/", data=form_data(csrf_of(r.text), description=PHONE_TEXT,
                                         submission_id=submission_id,
                                         confirm_warnings="on"))
    assert r.status_code == 303, r.text
    assert door.report_count() == 1


def test_missing_fields_keep_the_other_values(door: Door) -> None:
    browser, csrf = _open_form(door)
    r = browser.post("/", data=form_data(csrf, category="", severity="",
                                         no_patient_identifiers=""))
    assert r.status_code == 422
    assert 'id="category-error"' in r.text and 'id="severity-error"' in r.text
    assert 'id="no_patient_identifiers-error"' in r.text
    assert "Epikrise kom aldri fram til fastlegen" in r.text
    assert 'value="stolav_medisinsk" selected' in r.text
    assert door.report_count() == 0


def test_same_submission_id_twice_is_one_report(door: Door) -> None:
    browser, csrf = _open_form(door)
    data = form_data(csrf, submission_id="double-click-1")
    first = browser.post("/", data=data)
    second = browser.post("/", data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert door.report_count() == 1
    # the same submission id with other content is refused, not stored, not a 500
    third = browser.post("/", data=form_data(csrf, submission_id="double-click-1",
                                             severity="moderate"))
    assert third.status_code == 409
    assert third.headers["content-type"].startswith("text/html")
    assert door.report_count() == 1


def test_mine_lists_reports_of_this_browser_only(door: Door) -> None:
    browser, location = _send(door)
    (reference,) = door.references()
    token = STATUS_PATH_RE.match(location).group(1)
    mine = browser.get("/mine")
    assert mine.status_code == 200
    assert reference in mine.text
    assert f'href="/status/{token}"' in mine.text
    fresh = door.client().get("/mine")
    assert fresh.status_code == 200
    assert reference not in fresh.text
    assert "/status/" not in fresh.text


# ---------------------------------------------------------------- status page


def test_status_page_conversation_and_news(door: Door) -> None:
    """Depends on the nb catalogue ("tiltak" in the in_progress notice)."""
    browser, location = _send(door)
    (reference,) = door.references()
    path = location.split("?")[0]
    page = browser.get(path)

    # the reporter writes to the group
    r = browser.post(path, data={"csrf": csrf_of(page.text), "text": "Gjelder også mars."})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == path
    page = browser.get(path)
    assert "Gjelder også mars." in _dialog(page.text)
    # without csrf nothing is added
    r = browser.post(path, data={"text": "Uten csrf."})
    assert r.status_code == 403
    assert "Uten csrf." not in browser.get(path).text

    # the group answers
    services.reply(ctx=door.ctx, actor=GROUP, reference=reference,
                   text="Takk, vi har tatt kontakt med klinikken.")
    page = browser.get(path)
    assert "Takk, vi har tatt kontakt med klinikken." in _dialog(page.text)

    # a status move shows once the outbox is delivered
    services.move_status(ctx=door.ctx, actor=GROUP, reference=reference,
                         status="in_progress", message="Ny rutine utarbeides.")
    page = browser.get(path)
    assert "tiltak" not in _timeline(page.text)
    assert door.drain_outbox() >= 2
    page = browser.get(path)
    news = _timeline(page.text)
    assert "Nytt om meldingen din" in page.text
    assert "tiltak" in news
    assert reference in news
    assert "Ny rutine utarbeides." in news


def test_status_page_answer_with_identity_number_is_refused(door: Door) -> None:
    browser, location = _send(door)
    path = location.split("?")[0]
    page = browser.get(path)
    ssn = Faker("no_NO").ssn()
    text = f"Pasienten har fnr {ssn}"
    r = browser.post(path, data={"csrf": csrf_of(page.text), "text": text})
    assert r.status_code == 422
    assert str(escape(text)) in r.text  # kept for the reporter to fix
    assert door.count(m.Message) == 0


def test_script_in_description_is_escaped(door: Door) -> None:
    payload = '<script>alert("meld")</script><img src=x onerror=alert(1)>'
    browser, location = _send(door, description=f"Epikrise mangler. {payload}")
    html = browser.get(location).text
    assert "<script>" not in html
    assert "<img src=x" not in html
    assert str(escape(payload)) in html
    # also when it arrives through the API
    api = door.client()
    receipt = submit(api, description=f"API {payload}")
    html = api.get(f"/status/{status_token(receipt)}").text
    assert "<script>" not in html
    assert str(escape(payload)) in html


def test_unknown_status_page_is_404_html(door: Door) -> None:
    r = door.client().get("/status/" + "ab" * 24)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "MELD-" not in r.text


def test_static_file(door: Door) -> None:
    r = door.client().get("/static/meld.css")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/css")


def test_api_and_form_share_the_reference_sequence(door: Door) -> None:
    _send(door)
    receipt = submit(door.client(), severity="none")
    refs = door.references()
    assert len(refs) == 2 and refs[1] == receipt["reference"]
    numbers = [int(REFERENCE_RE.match(r).group(2)) for r in refs]
    assert numbers[1] == numbers[0] + 1
