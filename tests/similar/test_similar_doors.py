"""Search and similar reports at the group's other doors, on both databases: the command
line (`meld reports search TEXT`, `meld reports similar REF`) and the API
(GET /api/v1/reports?q=..., GET /api/v1/reports/{reference}/similar) on a real uvicorn
server. Only coded fields leave these doors, never a reporter's text."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select

from intake import services
from intake.cli.main import main
from intake.domain.model import Actor, Role
from intake.settings import Settings
from storage import models as m
from tests.doors.conftest import SECRET, Door, error_codes
from tests.integration.helpers import draft
from tests.similarity_cases import CASES

REPORTER = Actor("web:reporter-doors", Role.REPORTER)
# a referral returned without a reason: two more reports in the set say the same
EARLIER = next(i for i, c in enumerate(CASES) if c.group == "ref_returned")
SAME = {i for i, c in enumerate(CASES) if c.group == "ref_returned"} - {EARLIER}
REASONS_NB = "samme underkategori, sted og retning; tekst ligner"
REASONS_EN = "same subcategory, place and direction; similar text"
# the first words of every reporter's text in the labelled set
TEXTS = [c.text[:40] for c in CASES]

PLURAL = "Epikrisene fra kirurgisk kom aldri fram til fastlegen."
COMPOUND = "Epikrisesendingen stoppet opp etter oppgraderingen i helgen."
OTHER = "Henvisningen ble returnert uten begrunnelse."


def submit(ctx: services.Context, text: str) -> str:
    return services.submit_report(ctx=ctx, actor=REPORTER, draft=draft(
        description=text, confirm_warnings=True)).reference


def cli(db_url: str, capsys: pytest.CaptureFixture[str], *argv: str,
        locale: str = "nb") -> tuple[int, str, str]:
    code = main(list(argv), settings=Settings(database_url=db_url, secret_key=SECRET,
                                              locale=locale))
    out = capsys.readouterr()
    return code, out.out, out.err


def first_cells(out: str) -> list[str]:
    """The first column of a printed table, without its header."""
    return [line.split()[0] for line in out.splitlines()[1:]]


def audit_actions(ctx: services.Context) -> list[str]:
    with ctx.db.reading() as session:
        return list(session.scalars(select(m.AuditEvent.action).order_by(m.AuditEvent.id)))


# ---------------------------------------------------------------- the command line


def test_cli_search_finds_other_forms_of_a_word(ctx: services.Context, db_url: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    plural, compound, other = submit(ctx, PLURAL), submit(ctx, COMPOUND), submit(ctx, OTHER)
    code, out, err = cli(db_url, capsys, "reports", "search", "epikrise")
    lines = out.splitlines()
    assert (code, err) == (0, "")
    assert lines[0].split() == ["Referanse", "Meldt", "Status", "Type", "Kategori"]
    assert set(first_cells(out)) == {plural, compound} and other not in out
    assert all("Mottatt" in line for line in lines[1:])
    assert "kirurgisk" not in out and "Epikrisesendingen" not in out  # no reporter's text
    # several words without quotes: every one must be there
    code, out, _ = cli(db_url, capsys, "reports", "search", "epikrise", "kirurgisk")
    assert (code, first_cells(out)) == (0, [plural])
    code, out, _ = cli(db_url, capsys, "reports", "search", "henvisninger")
    assert (code, first_cells(out)) == (0, [other])
    code, out, err = cli(db_url, capsys, "reports", "search", "ortopedi")
    assert (code, out, err) == (0, "Ingen treff på «ortopedi».\n", "")
    assert audit_actions(ctx).count("search") == 4


def test_cli_search_refuses_in_words(ctx: services.Context, db_url: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    submit(ctx, PLURAL)
    code, out, err = cli(db_url, capsys, "reports", "search", "x" * 201)
    assert (code, out) == (2, "")
    assert err == "meld: TEKST: For langt: høyst 200 tegn.\n"
    code, out, err = cli(db_url, capsys, "reports", "search", "   ")
    assert (code, out) == (2, "") and err.startswith("meld: TEKST: ")
    code, out, err = cli(db_url, capsys, "reports", "search", "epi\x07krise", locale="en")
    assert (code, out) == (2, "")
    assert err == ("meld: TEXT: The text contains invisible control characters. Remove "
                   "them.\n")
    with pytest.raises(SystemExit):
        cli(db_url, capsys, "reports", "search", "epikrise", "--limit", "101")
    assert "101 er ikke mellom 1 og 100" in capsys.readouterr().err


def test_cli_similar_prints_scores_and_reasons(ctx: services.Context, labelled: list[str],
                                               db_url: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    reference = labelled[EARLIER]
    code, out, err = cli(db_url, capsys, "reports", "similar", reference)
    lines = out.splitlines()
    assert (code, err) == (0, "")
    assert lines[0].split() == ["Referanse", "Poeng", "Status", "Hvorfor"]
    assert 2 <= len(lines) - 1 <= 5
    # the two others about the same returned referral come first, with the reasons in words
    assert set(first_cells(out)[:2]) == {labelled[i] for i in SAME}
    assert REASONS_NB in lines[1]
    assert all(re.search(r"\s0,\d\d\s+Mottatt\s", line) for line in lines[1:]), out
    assert not any(text in out for text in TEXTS)  # the texts stay in the database
    code, out, _ = cli(db_url, capsys, "reports", "similar", reference.lower(), "--limit",
                       "1", locale="en")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert lines[0].split() == ["Reference", "Score", "Status", "Why"]
    assert REASONS_EN in lines[1] and re.search(r"\s0\.\d\d\s+Received\s", lines[1])
    assert audit_actions(ctx).count("similar") == 2


def test_cli_similar_says_when_there_is_nothing(ctx: services.Context, db_url: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    reference = submit(ctx, PLURAL)
    code, out, err = cli(db_url, capsys, "reports", "similar", reference)
    assert (code, out, err) == (0, "Ingen lignende saker.\n", "")
    code, out, err = cli(db_url, capsys, "reports", "similar", "MELD-2026-9999")
    assert (code, out) == (2, "")
    assert err == "meld: Fant ingen melding med referanse MELD-2026-9999.\n"


# ---------------------------------------------------------------- the API


def test_api_q_gives_the_search_best_match_first(door: Door, group: httpx.Client) -> None:
    ctx = door.ctx
    strong = submit(ctx, "Epikrise mangler. Epikrise kom ikke. Ingen epikrise i det hele tatt.")
    weak = submit(ctx, "Telefonen ble ikke besvart; vi fikk heller ingen epikrisen.")
    other = submit(ctx, OTHER)
    r = group.get("/api/v1/reports", params={"q": "epikrise"})
    assert r.status_code == 200, r.text
    page = r.json()
    # ranked, not newest first: the queue would put `weak` before `strong`
    assert [i["reference"] for i in page["items"]] == [strong, weak]
    assert page["next_cursor"] is None
    assert all(i["description"] is None for i in page["items"])
    assert "Telefonen" not in r.text and "hele tatt" not in r.text
    assert "search" in audit_actions(ctx)
    # the other filters narrow it: the reports matching them all, newest first
    r = group.get("/api/v1/reports", params={"q": "epikrise", "status": "received"})
    assert [i["reference"] for i in r.json()["items"]] == [weak, strong]
    r = group.get("/api/v1/reports", params={"q": "epikrise", "kind": "suggestion"})
    assert (r.status_code, r.json()["items"]) == (200, [])
    # an empty q is no search: the queue as before
    r = group.get("/api/v1/reports", params={"q": ""})
    assert [i["reference"] for i in r.json()["items"]] == [other, weak, strong]
    r = group.get("/api/v1/reports", params={"q": "ortopedi"})
    assert r.json() == {"items": [], "next_cursor": None}


def test_api_q_is_refused_with_422(door: Door, group: httpx.Client, api: httpx.Client) -> None:
    submit(door.ctx, PLURAL)
    r = group.get("/api/v1/reports", params={"q": "x" * 201})
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "validation_failed"
    assert error_codes(r.json()) == {"q": ["too_long"]}
    assert r.json()["errors"][0]["message"] == "For langt: høyst 200 tegn."
    for params in ({"q": "epi\x00krise"}, {"q": "epi\x00krise", "status": "received"}):
        r = group.get("/api/v1/reports", params=params)
        assert r.status_code == 422, params
        assert error_codes(r.json()) == {"q": ["control_characters"]}
    r = group.get("/api/v1/reports", params={"q": "   ", "kind": "deviation"})
    assert r.status_code == 200 and len(r.json()["items"]) == 1  # blank: no search
    assert api.get("/api/v1/reports", params={"q": "epikrise"}).status_code == 401


def test_api_similar_gives_coded_fields_scores_and_reasons(door: Door, group: httpx.Client,
                                                           labelled: list[str]) -> None:
    reference = labelled[EARLIER]
    r = group.get(f"/api/v1/reports/{reference}/similar")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert 2 <= len(items) <= 5
    assert set(items[0]) == {"reference", "status", "kind", "category", "subcategory",
                             "place", "active", "score", "reasons", "reasons_text"}
    assert {i["reference"] for i in items[:2]} == {labelled[i] for i in SAME}
    best = items[0]
    case = CASES[labelled.index(best["reference"])]
    assert (best["category"], best["subcategory"], best["place"]) == (
        case.category, case.subcategory, case.place)
    assert (best["status"], best["kind"], best["active"]) == ("received", "deviation", True)
    assert best["reasons"] == ["same_subcategory", "same_place", "same_direction",
                               "similar_text"]
    assert best["reasons_text"] == REASONS_NB
    scores = [i["score"] for i in items]
    assert all(0 < s <= 1 for s in scores) and scores == sorted(scores, reverse=True)
    # the reporters' texts and who they are stay in the database
    assert not any(text in r.text for text in TEXTS)
    assert "web:reporter" not in r.text and "description" not in r.text
    # in the reader's language, as many as asked for
    r = group.get(f"/api/v1/reports/{reference}/similar", params={"limit": 1},
                  headers={"Accept-Language": "en"})
    assert [i["reasons_text"] for i in r.json()["items"]] == [REASONS_EN]
    for limit in (0, 21):
        r = group.get(f"/api/v1/reports/{reference}/similar", params={"limit": limit})
        assert r.status_code == 422 and error_codes(r.json()) == {"limit": ["invalid_value"]}
    assert audit_actions(door.ctx).count("similar") == 2


def test_api_similar_404_401_and_403(door: Door, group: httpx.Client,
                                     api: httpx.Client) -> None:
    reference = submit(door.ctx, PLURAL)
    r = group.get(f"/api/v1/reports/{reference}/similar")
    assert (r.status_code, r.json()) == (200, {"items": []})
    r = group.get("/api/v1/reports/MELD-2026-9999/similar")
    assert r.status_code == 404
    assert r.json()["code"] == "report_not_found"
    assert r.json()["message"] == "Fant ingen melding med referanse MELD-2026-9999."
    r = api.get(f"/api/v1/reports/{reference}/similar")
    assert (r.status_code, r.json()["code"]) == (401, "invalid_token")
    reader = door.token(name="committee", role="reader")
    r = api.get(f"/api/v1/reports/{reference}/similar",
                headers={"Authorization": f"Bearer {reader}"})
    assert (r.status_code, r.json()["code"]) == (403, "group_only")
    assert PLURAL not in r.text
    # /reports/stats is still the stats, /reports/{reference} still the report
    assert group.get(f"/api/v1/reports/{reference}").json()["description"] == PLURAL
    assert group.get("/api/v1/reports/stats", params={"period": "2026"}).status_code == 200
