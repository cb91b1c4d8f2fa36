"""Signing in to the board with Entra ID through a fake OpenID provider on HTTPS loopback:
the code flow with PKCE end to end, the app roles, and every way in that must stay shut
(another tenant, no role, a replayed or forged answer, a token for another app)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from storage import models as m
from tests.board.conftest import Board, BoardMaker
from tests.board.entra_fake import CLIENT_ID, CLIENT_SECRET, TENANT, FakeEntra, user


@pytest.fixture
def entra(tmp_path: Path) -> Iterator[FakeEntra]:
    with FakeEntra(tmp_path) as fake:
        yield fake


@pytest.fixture
def board(make_board: BoardMaker, entra: FakeEntra) -> Board:
    return make_board(entra_tenant_id=TENANT, entra_client_id=CLIENT_ID,
                      entra_client_secret=CLIENT_SECRET, entra_authority_url=entra.url,
                      entra_ca_bundle=entra.ca_path)


def browse(board: Board, entra: FakeEntra, start: str = "/gruppe"
           ) -> tuple[httpx.Client, httpx.Response]:
    """A browser going to `start`, to the sign-in page, to Entra and back: the last answer."""
    c = board.client()
    r = c.get(start)
    assert r.status_code == 303
    page = c.get(r.headers["location"])
    assert "/gruppe/entra/start" in page.text
    r = c.get("/gruppe/entra/start", params={"neste": start})
    assert r.status_code == 303 and r.headers["location"].startswith(entra.url)
    with httpx.Client(verify=ssl.create_default_context(cafile=str(entra.ca_path))) as idp:
        back = idp.get(r.headers["location"])
    assert back.status_code == 302
    callback = back.headers["location"].removeprefix(board.ctx.settings.base_url)
    return c, c.get(callback)


def refusals(board: Board) -> list[str]:
    with board.ctx.db.reading() as session:
        return [e.details["reason"] for e in session.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "board_login_refused").order_by(m.AuditEvent.id))]


def test_a_triager_signs_in_with_entra_and_pkce(board: Board, entra: FakeEntra) -> None:
    reference = board.report()
    c, r = browse(board, entra, f"/gruppe/sak/{reference}")
    assert r.status_code == 303 and r.headers["location"] == f"/gruppe/sak/{reference}"
    page = c.get(r.headers["location"])
    assert page.status_code == 200 and 'action="/gruppe/sak/' in page.text
    asked = entra.authorize_requests[-1]
    assert asked["code_challenge_method"] == "S256" and asked["nonce"] and asked["state"]
    assert asked["redirect_uri"] == board.ctx.settings.base_url + "/gruppe/entra/svar"
    assert entra.refused == []  # the verifier matched the challenge, the secret was right
    with board.ctx.db.reading() as session:
        logins = session.scalars(select(m.AuditEvent).where(
            m.AuditEvent.action == "board_login")).all()
    assert [(e.actor_id, e.actor_role, e.details["via"]) for e in logins] == [
        ("entra:aaaa-1", "triager", "entra")]


def test_meld_read_gives_a_reader(board: Board, entra: FakeEntra) -> None:
    reference = board.report()
    entra.user = user(oid="bbbb-2", name="Utvalgsmedlem", roles=("Meld.Read",))
    c, r = browse(board, entra, f"/gruppe/sak/{reference}")
    page = c.get(r.headers["location"])
    assert page.status_code == 200 and 'action="/gruppe/sak/' not in page.text


@pytest.mark.parametrize(("who", "reason"), [
    (user(roles=()), "no_app_role"),
    (user(roles=("Some.Other",)), "no_app_role"),
    (user(tid="99999999-0000-0000-0000-000000000000"), "other_tenant"),
])
def test_nobody_else_gets_in(board: Board, entra: FakeEntra, who: dict[str, object],
                             reason: str) -> None:
    entra.user = who
    c, r = browse(board, entra)
    assert r.status_code == 403 and "meld_board" not in r.headers.get("set-cookie", "")
    assert c.get("/gruppe").status_code == 303
    assert refusals(board) == [reason]


def test_an_error_from_entra_is_refused(board: Board, entra: FakeEntra) -> None:
    entra.deny = "access_denied"
    c, r = browse(board, entra)
    assert r.status_code == 403 and c.get("/gruppe").status_code == 303
    assert refusals(board) == ["entra:access_denied"]


def test_an_id_token_for_another_app_is_refused(board: Board, entra: FakeEntra) -> None:
    entra.audience = "another-app"
    c, r = browse(board, entra)
    assert r.status_code == 400 and c.get("/gruppe").status_code == 303
    assert refusals(board) == ["invalid_id_token:InvalidAudienceError"]


def test_an_id_token_signed_with_another_key_is_refused(board: Board,
                                                        entra: FakeEntra) -> None:
    entra.forge = True
    c, r = browse(board, entra)
    assert r.status_code == 400 and c.get("/gruppe").status_code == 303
    assert refusals(board) == ["invalid_id_token:InvalidSignatureError"]


def test_a_replayed_or_forged_answer_is_refused(board: Board, entra: FakeEntra) -> None:
    c = board.client()
    r = c.get("/gruppe/entra/start")
    with httpx.Client(verify=ssl.create_default_context(cafile=str(entra.ca_path))) as idp:
        back = idp.get(r.headers["location"]).headers["location"]
    callback = back.removeprefix(board.ctx.settings.base_url)
    # another browser (no flow cookie) with the code: refused
    assert board.client().get(callback).status_code == 400
    # the right browser with the state changed: refused
    forged = callback.replace("state=", "state=x")
    assert c.get(forged).status_code == 400
    # a flow cookie whose signature does not match: refused
    other = board.client()
    other.cookies.set("meld_entra_flow", "e30.deadbeef", path="/gruppe/entra")
    assert other.get(callback).status_code == 400
    assert refusals(board)[0] == "no_flow" and all(refusals(board))
    assert c.get("/gruppe").status_code == 303


def test_without_entra_settings_the_sign_in_page_offers_links_only(make_board: BoardMaker
                                                                    ) -> None:
    plain = make_board()
    c = plain.client()
    assert "/gruppe/entra/start" not in c.get("/gruppe/logg-inn").text
    assert c.get("/gruppe/entra/start").status_code == 303
