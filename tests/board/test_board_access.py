"""Who gets onto the board: one-time links, server-side sessions, sign-out, idleness,
revocation, and refusals that show no data (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import func, select

from intake import services
from storage import models as m
from tests.board.conftest import ADMIN, Board, csrf


def audit_actions(board: Board, action: str) -> list[m.AuditEvent]:
    with board.ctx.db.reading() as session:
        return list(session.scalars(select(m.AuditEvent).where(m.AuditEvent.action == action)))


def test_signed_out_requests_get_the_sign_in_page_never_data(board: Board) -> None:
    reference = board.report()
    c = board.client()
    for path in ("/gruppe", f"/gruppe/sak/{reference}", "/gruppe?status=received"):
        r = c.get(path)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/gruppe/logg-inn?neste=%2Fgruppe")
        assert reference not in r.text
    r = c.post(f"/gruppe/sak/{reference}/note", data={"note": "x", "csrf": "0" * 64})
    assert r.status_code == 403 and reference not in r.text  # no token of a board session
    assert services.get_report(ctx=board.ctx, actor=ADMIN, reference=reference).messages == ()
    page = c.get("/gruppe/logg-inn")
    assert page.status_code == 200 and "meld login-link" in page.text


def test_a_reporters_cookie_or_a_made_up_one_does_not_open_the_board(board: Board) -> None:
    reference = board.report()
    c = board.client()
    assert c.get("/").status_code == 200  # the reporter's form: sets the reporter's cookie
    assert c.cookies.get("meld_session")
    assert c.get("/gruppe").status_code == 303
    c.cookies.set("meld_board", c.cookies["meld_session"], path="/gruppe")
    assert c.get(f"/gruppe/sak/{reference}").status_code == 303
    c.cookies.set("meld_board", "x" * 43, path="/gruppe")
    assert c.get("/gruppe").status_code == 303


def test_a_link_signs_in_once_and_its_get_uses_nothing_up(board: Board) -> None:
    path = board.link()
    scanner = board.client()
    assert scanner.get(path).status_code == 200  # a mail scanner following the link
    assert scanner.get(path).status_code == 200
    c = board.client()
    page = c.get(path)
    r = c.post(path, data={"csrf": csrf(page.text), "neste": "/gruppe"})
    assert r.status_code == 303 and r.headers["location"] == "/gruppe"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/gruppe" in cookie
    assert c.get("/gruppe").status_code == 200
    # the second use is refused, shows no board, and is audited
    other = board.client()
    again = other.get(path)
    assert again.status_code == 404
    r = other.post(path, data={"csrf": csrf(other.get("/").text)})  # a token of this browser
    assert r.status_code == 404 and "meld_board" not in r.headers.get("set-cookie", "")
    assert other.get("/gruppe").status_code == 303
    assert [e.details["reason"] for e in audit_actions(board, "board_login_refused")] == ["used"]
    assert [e.actor_id for e in audit_actions(board, "board_login")] == ["board:Kari Lege"]


def test_a_link_expires_after_ten_minutes(board: Board) -> None:
    path = board.link()
    board.clock.advance(minutes=services.LOGIN_LINK_MINUTES, seconds=1)
    c = board.client()
    page = c.get(path)
    assert page.status_code == 404
    assert c.post(path, data={"csrf": csrf(c.get("/").text)}).status_code == 404
    assert [e.details["reason"] for e in audit_actions(board, "board_login_refused")] == [
        "expired"]


def test_the_sign_in_post_needs_the_pages_token_and_goes_nowhere_else(board: Board) -> None:
    path = board.link()
    c = board.client()
    assert c.post(path, data={"csrf": "0" * 64}).status_code == 403
    page = c.get(path)  # the refused POST did not use the link up
    r = c.post(path, data={"csrf": csrf(page.text), "neste": "//evil.example/x"})
    assert r.status_code == 303 and r.headers["location"] == "/gruppe"


def test_the_page_asked_for_is_where_the_sign_in_lands(board: Board) -> None:
    reference = board.report()
    c = board.client()
    target = c.get(f"/gruppe/sak/{reference}").headers["location"]
    neste = target.split("neste=", 1)[1]
    path = board.link()
    page = c.get(f"{path}?neste={neste}")
    r = c.post(path, data={"csrf": csrf(page.text), "neste": f"/gruppe/sak/{reference}"})
    assert r.headers["location"] == f"/gruppe/sak/{reference}"
    assert reference in c.get(r.headers["location"]).text


def test_sign_out_ends_the_session_on_the_server(board: Board) -> None:
    c = board.signed_in()
    kept = c.cookies["meld_board"]
    page = c.get("/gruppe")
    r = c.post("/gruppe/logg-ut", data={"csrf": csrf(page.text)})
    assert r.status_code == 303
    # the old cookie, replayed, no longer works
    replay = board.client()
    replay.cookies.set("meld_board", kept, path="/gruppe")
    assert replay.get("/gruppe").status_code == 303
    assert [e.actor_id for e in audit_actions(board, "board_logout")] == ["board:Kari Lege"]


def test_an_idle_session_ends_and_use_keeps_one_alive(board: Board) -> None:
    idle = board.ctx.settings.board_idle_minutes
    c = board.signed_in()
    for _ in range(3):  # used every idle-10 minutes: still signed in well past `idle`
        board.clock.advance(minutes=idle - 10)
        assert c.get("/gruppe").status_code == 200
    board.clock.advance(minutes=idle, seconds=1)
    assert c.get("/gruppe").status_code == 303


def test_revoking_a_person_ends_all_their_sessions(board: Board) -> None:
    laptop, phone = board.signed_in(), board.signed_in()
    other = board.signed_in(name="Per Lege")
    unused = board.link()
    assert services.revoke_sessions(ctx=board.ctx, actor=ADMIN, name="Kari Lege") == 2
    assert laptop.get("/gruppe").status_code == 303
    assert phone.get("/gruppe").status_code == 303
    assert other.get("/gruppe").status_code == 200
    assert board.client().get(unused).status_code == 404  # the unused link went too


def test_every_board_form_needs_the_boards_token(board: Board) -> None:
    """Every state-changing route under /gruppe refuses a post without this session's token
    (none, empty, made up, the reporter form's, another board session's), signed in or not,
    and nothing changes."""
    from tests.security.test_web_hardening import routes_of

    reference = board.report()
    routes = {(method, path) for path, methods in routes_of(board.app.routes)
              if path.startswith("/gruppe") for method in methods - {"GET", "HEAD", "OPTIONS"}}
    assert {("POST", "/gruppe/sak/{reference}/{action}"), ("POST", "/gruppe/mote"),
            ("POST", "/gruppe/logg-ut")} <= routes
    c = board.signed_in()
    other = csrf(board.signed_in(name="Per Lege").get("/gruppe").text)
    with board.ctx.db.reading() as session:
        before = session.scalar(select(func.count()).select_from(m.AuditEvent))
    for method, path in sorted(routes):
        if path == "/gruppe/inn/{token}":
            continue  # signing in: the reporter form's token (test above)
        url = (path.replace("{reference}", reference).replace("{action}", "note"))
        for token in (None, "", "0" * 64, csrf(c.get("/").text), other):
            data = {"note": "Notat", "held_on": "2026-04-01"}
            if token is not None:
                data["csrf"] = token
            assert c.request(method, url, data=data).status_code == 403, (path, token)
            assert board.client().request(method, url, data=data).status_code == 403
    assert c.get("/gruppe").status_code == 200  # the forged sign-outs signed nobody out
    with board.ctx.db.reading() as session:
        after = session.scalar(select(func.count()).select_from(m.AuditEvent).where(
            m.AuditEvent.action.not_in(("list", "read"))))
        assert after <= before  # no change, no sign-out, no meeting
    assert services.get_report(ctx=board.ctx, actor=ADMIN, reference=reference).messages == ()
