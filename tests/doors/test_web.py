"""The server-rendered web form and status pages, as a browser without JavaScript uses them."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import httpx
from faker import Faker
from markupsafe import escape
from sqlalchemy import select

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
    for field in ("kind", "category", "subcategory", "description", "occurred_on", "severity",
                  "place", "place_text", "reporter_party", "concerned_party",
                  "no_patient_identifiers"):
        assert field in names, field
    for field in ("category", "subcategory", "description", "occurred_on", "place",
                  "place_text", "reporter_party", "concerned_party"):
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
    assert '<script src="/static/meld.js" defer></script>' in html
    assert "<script>" not in html  # nothing inline: the policy would refuse it
    # the blank form may be kept by this browser (never a shared cache) for Back
    assert r.headers["cache-control"] == "private, no-cache"
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


def test_good_collaboration_needs_no_severity_and_gets_a_thank_you(door: Door) -> None:
    page = door.client().get("/").text
    assert 'value="good_collaboration"' in page and "Godt samarbeid" in page
    browser, location = _send(door, kind="good_collaboration", severity="",
                              description="Epikrisen kom samme dag. Takk til sengeposten!")
    (reference,) = door.references()
    r = browser.get(location)
    assert r.status_code == 200
    assert ("Takk for at du forteller oss hva som fungerte! Meldingen din er mottatt med "
            f"referanse {reference}.") in r.text
    assert RECEIPT_NB.format(reference=reference) not in r.text
    assert "Alvorlighet (din vurdering)" not in r.text  # no harm was asked
    with door.ctx.db.reading() as session:
        report = session.scalars(select(m.Report)).one()
    assert (report.kind, report.reported_severity) == ("good_collaboration", "none")
    # sent back with an error, the form keeps the severity question hidden
    browser, csrf = _open_form(door)
    again = browser.post("/", data=form_data(csrf, kind="good_collaboration", severity="",
                                             description=""))
    assert again.status_code == 422
    assert 'id="severity-field" hidden' in again.text


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
    # a page with the reporter's text is never kept by the browser
    assert r.headers["cache-control"] == "no-store"
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
    # only the confirmation is missing: category and severity may be left out
    assert 'id="category-error"' not in r.text and 'id="severity-error"' not in r.text
    assert 'id="no_patient_identifiers-error"' in r.text
    assert "Epikrise kom aldri fram til fastlegen" in r.text
    assert 'value="stolav_medisinsk" selected' in r.text
    # without JavaScript the page shows Meld's suggestion from the text, made by the server
    assert "Meld foreslår" in r.text and 'data-category="discharge_summary"' in r.text
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
    # the form comes back with a new id and says why: sending it again files a new report
    assert "allerede sendt" in third.text
    new_id = SUBMISSION_RE.search(third.text).group(1)
    assert new_id != "double-click-1"
    fourth = browser.post("/send", data=form_data(csrf, submission_id=new_id,
                                                  severity="moderate"))
    assert fourth.status_code == 303
    assert door.report_count() == 2


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
    # the words come with the news they explain, not a second time in the conversation
    assert "Ny rutine utarbeides." not in _dialog(page.text)
    assert page.text.count("Ny rutine utarbeides.") == 1


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


# ---------------------------------------------------------------- issue 12: the form's details


def test_form_posts_to_its_own_path_and_that_path_opens_the_form(door: Door) -> None:
    browser, csrf = _open_form(door)
    page = browser.get("/")
    assert '<form method="post" action="/send"' in page.text
    r = browser.post("/send", data=form_data(csrf))
    assert r.status_code == 303 and STATUS_PATH_RE.match(r.headers["location"])
    # a language link on a refused form asks for /send?lang=en: the blank form, not a 405
    r = browser.get("/send?lang=en")
    assert r.status_code == 303 and r.headers["location"] == "/?lang=en"


def test_subcategory_is_one_list_of_category_slash_subcategory(door: Door) -> None:
    browser, csrf = _open_form(door)
    html = browser.get("/").text
    assert '<option value="discharge_summary/missing">' in html
    assert '<optgroup label="Epikrise" data-category="discharge_summary">' in html
    r = browser.post("/send", data=form_data(csrf, subcategory="discharge_summary/late"))
    assert r.status_code == 303
    with door.ctx.db.reading() as session:
        assert session.scalar(select(m.Report.subcategory_id)) == "late"


def test_subcategory_under_another_category_is_refused_at_its_field(door: Door) -> None:
    """Without JavaScript every list shows; a choice from another category's list is refused."""
    browser, csrf = _open_form(door)
    data = form_data(csrf, subcategory="referral/incomplete")  # the category is the epikrise
    del data["subcategory_discharge_summary"]
    r = browser.post("/send", data=data)
    assert r.status_code == 422, r.text
    assert door.stored_nothing()
    select_tag = re.search(r'<select id="subcategory"[^>]*>', r.text).group(0)
    assert 'aria-invalid="true"' in select_tag and "subcategory-error" in select_tag
    assert 'id="subcategory-error"' in r.text
    assert '<a href="#subcategory">' in r.text  # the error summary points at the field
    # the choice is shown again, selected, for the reporter to change
    assert '<option value="referral/incomplete" selected>' in r.text


def test_pages_from_before_the_single_list_still_send_their_subcategory(door: Door) -> None:
    browser, csrf = _open_form(door)
    r = browser.post("/", data=form_data(csrf))  # subcategory_discharge_summary=missing
    assert r.status_code == 303
    with door.ctx.db.reading() as session:
        assert session.scalar(select(m.Report.subcategory_id)) == "missing"


def test_error_summary_links_every_problem_to_its_field(door: Door) -> None:
    browser, csrf = _open_form(door)
    r = browser.post("/send", data=form_data(csrf, category="nope", severity="huge",
                                             description="", no_patient_identifiers=""))
    assert r.status_code == 422
    summary = re.search(r'<div class="error-summary[^"]*" id="error-summary"[^>]*>(.*?)</div>',
                        r.text, re.S)
    assert summary, "no error summary"
    assert "autofocus" in summary.group(0) and 'tabindex="-1"' in summary.group(0)
    anchors = re.findall(r'<a href="#([^"]+)">', summary.group(1))
    assert anchors == ["category", "description", "severity-none", "no_patient_identifiers"]
    # a problem in the optional part opens it, so that its link leads to a visible field
    assert '<details id="more-details" open>' in r.text
    ids = _controls(r.text).ids
    assert set(anchors) <= ids
    assert "<title>Feil: " in r.text
    # the severity radios carry the error like any other control
    for radio in re.findall(r'<input type="radio" name="severity"[^>]*>', r.text):
        assert 'aria-invalid="true"' in radio and 'aria-describedby="severity-error"' in radio
    assert 'id="severity-error"' in r.text


def test_required_fields_say_so(door: Door) -> None:
    html = door.client().get("/").text
    for tag in ('<textarea id="description" name="description"',
                '<input type="checkbox" name="no_patient_identifiers" id="no_patient_identifiers"'
                ' required'):
        assert tag in html, tag
    assert re.search(r'<textarea id="description"[^>]* required', html)
    # the text and the confirmation, and nothing else
    assert html.count('<span class="req">(må fylles ut)</span>') == 2
    assert html.count(" required") == 2
    assert 'aria-required="true"' not in html
    # the rest waits, closed, under "Mer om saken (valgfritt)"
    assert '<details id="more-details">' in html
    assert "<summary>Mer om saken (valgfritt)" in html
    for optional in ('<select id="category" name="category"',
                     '<input type="date" id="occurred_on" name="occurred_on"',
                     'name="severity"', '<select id="place" name="place"'):
        assert html.index(optional) > html.index('<details id="more-details">'), optional


def test_a_warning_is_marked_as_one_with_its_confirmation_beside_it(door: Door) -> None:
    browser, csrf = _open_form(door)
    r = browser.post("/send", data=form_data(csrf, description=PHONE_TEXT))
    assert r.status_code == 422
    block = re.search(r'<div class="field-messages" id="description-error">(.*?)</div>',
                      r.text, re.S)
    assert block, "no messages under the description"
    assert '<p class="warning">' in block.group(1) and '<p class="error">' not in block.group(1)
    assert 'name="confirm_warnings"' in block.group(1)
    assert r.text.count('name="confirm_warnings"') == 1
    textarea = re.search(r'<textarea id="description"[^>]*>', r.text).group(0)
    assert "aria-invalid" not in textarea and "description-error" in textarea
    assert 'class="error-summary warnings-only"' in r.text


def test_skip_link_and_favicon(door: Door) -> None:
    client = door.client()
    html = client.get("/").text
    assert '<a class="skip-link" href="#main">' in html
    assert '<main id="main" tabindex="-1">' in html
    r = client.get("/favicon.ico")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/x-icon"
    assert r.headers["cache-control"].startswith("public")
    assert r.content[:4] == b"\x00\x00\x01\x00"
    assert client.get("/static/favicon.svg").status_code == 200


def test_receipt_prints_the_private_link(door: Door) -> None:
    browser, location = _send(door)
    token = STATUS_PATH_RE.match(location).group(1)
    html = browser.get(location).text
    link = f"{door.ctx.settings.base_url.rstrip('/')}/status/{token}"
    assert f'<a id="private-link" href="{link}"' in html
    assert f'data-copy="{link}"' in html
    assert "Din private lenke" in html


def test_mine_marks_news_and_remembers_the_visit(door: Door) -> None:
    browser, _location = _send(door)
    (reference,) = door.references()
    first = browser.get("/mine")
    seen = _set_cookie(first, "meld_seen")
    attrs = [p.strip().lower() for p in seen.split(";")]
    assert "httponly" in attrs and "path=/mine" in attrs and "samesite=strict" in attrs
    assert 'class="has-news"' not in first.text
    services.reply(ctx=door.ctx, actor=GROUP, reference=reference, text="Vi ser på saken.")
    again = browser.get("/mine")
    assert 'class="has-news"' in again.text and "Nytt</strong>" in again.text
    # a cookie from long ago: a new visit, and the answer came after it
    browser.cookies.set("meld_seen", "0:1000000000", domain="127.0.0.1", path="/mine")
    assert 'class="has-news"' in browser.get("/mine").text
    # a broken cookie is ignored, never a 500
    for bad in ("x", "1:2:3", "9" * 40, ":", "-1:-1", "999999999999:999999999999",
                "1:" + "9" * 5000):
        browser.cookies.set("meld_seen", bad, domain="127.0.0.1", path="/mine")
        assert browser.get("/mine").status_code == 200, bad


def test_docs_come_from_meld_with_a_policy_that_names_their_inline_script(door: Door) -> None:
    client = door.client()
    for path, asset in (("/docs", "/static/swagger-ui-bundle.js"),
                        ("/redoc", "/static/redoc.standalone.js")):
        r = client.get(path)
        assert r.status_code == 200
        assert f'src="{asset}"' in r.text
        assert "cdn." not in r.text and "googleapis" not in r.text
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "connect-src 'self'" in csp
        for script in re.findall(r"<script>(.*?)</script>", r.text, re.S):
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in csp
        assert client.get(asset).status_code == 200
    assert client.get("/docs/oauth2-redirect").status_code == 200
    assert client.get("/openapi.json").status_code == 200
