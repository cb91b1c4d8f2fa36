"""The newsletter on the group's board (/gruppe/nyhetsbrev) over HTTP: a triager edits,
approves (by their signed-in name) and publishes it with the board's CSRF token; a reader
reads the draft and the preview, and a change they post is refused."""

from __future__ import annotations

import re

from tests.board.conftest import Board, csrf
from tests.newsletter.conftest import AFTER, SECRET, TERTIAL, Tertials, seed

PAGE = f"/gruppe/nyhetsbrev?tertial={TERTIAL}"


def seeded(board: Board) -> Tertials:
    t = Tertials(ctx=board.ctx, clock=board.clock)
    seed(t)
    board.clock.now = AFTER
    return t


def test_the_group_edits_approves_and_publishes(board: Board) -> None:
    seeded(board)
    kari = board.signed_in("Kari Gruppeleder")
    page = kari.get(PAGE)
    assert page.status_code == 200 and "Tertialets nyhetsbrev" in page.text
    assert 'href="/gruppe/nyhetsbrev"' in page.text  # in the board's menu
    assert SECRET not in page.text
    keys = re.findall(r'name="item" value="([^"]+)" checked', page.text)
    flagged = re.findall(r'name="item" value="([^"]+)">', page.text)
    assert len(keys) == 14 and len(flagged) == 1  # the phone number is left out
    revision = re.search(r'name="revision" value="(\d+)"', page.text).group(1)
    r = kari.post("/gruppe/nyhetsbrev/rediger", data={
        "csrf": csrf(page.text), "tertial": TERTIAL, "revision": revision,
        "title": "Dette lærte vi i vinter", "introduction": "Takk for alle meldingene.",
        "item": keys[1:]})
    assert r.status_code == 303, r.text
    page = kari.get(r.headers["location"])
    assert "Nyhetsbrevet er lagret." in page.text and "Dette lærte vi i vinter" in page.text
    assert len(re.findall(r'name="item" value="[^"]+" checked', page.text)) == 13
    preview = kari.get(f"/gruppe/nyhetsbrev/forhandsvis?tertial={TERTIAL}")
    assert preview.status_code == 200 and "Utkast: ikke publisert." in preview.text
    assert kari.get(f"/gruppe/nyhetsbrev/forhandsvis?tertial={TERTIAL}&format=pdf"
                    ).headers["content-type"] == "application/pdf"

    revision = re.search(r'name="revision" value="(\d+)"', page.text).group(1)
    r = kari.post("/gruppe/nyhetsbrev/godkjenn", data={
        "csrf": csrf(page.text), "tertial": TERTIAL, "revision": revision})
    assert r.status_code == 303
    page = kari.get(r.headers["location"])
    assert "godkjent av Kari Gruppeleder" in page.text
    r = kari.post("/gruppe/nyhetsbrev/publiser", data={"csrf": csrf(page.text),
                                                      "tertial": TERTIAL})
    assert r.status_code == 303
    page = kari.get(r.headers["location"])
    assert "Nyhetsbrevet er publisert." in page.text
    base = re.escape(board.ctx.settings.base_url.rstrip("/"))
    # the public link in full, to copy into a mail or a chat
    slug = re.search(rf'href="{base}/nyhetsbrev/([^"]+)">{base}/nyhetsbrev/', page.text).group(1)
    public = board.client().get(f"/nyhetsbrev/{slug}")  # no session: the link is enough
    assert public.status_code == 200 and "Dette lærte vi i vinter" in public.text
    assert 'name="item"' not in page.text  # published: nothing to edit


def test_a_stale_approval_and_a_forged_post_are_refused(board: Board) -> None:
    seeded(board)
    kari = board.signed_in("Kari Gruppeleder")
    page = kari.get(PAGE)
    r = kari.post("/gruppe/nyhetsbrev/godkjenn", data={
        "csrf": csrf(page.text), "tertial": TERTIAL, "revision": "999"})
    assert r.status_code == 409 and "endret siden du åpnet det" in r.text
    r = kari.post("/gruppe/nyhetsbrev/publiser", data={"csrf": "0" * 64, "tertial": TERTIAL})
    assert r.status_code == 403
    r = kari.post("/gruppe/nyhetsbrev/publiser", data={"csrf": csrf(page.text),
                                                      "tertial": TERTIAL})
    assert r.status_code == 404 and "lag utkast og godkjenn det først" in r.text
    kari.post("/gruppe/nyhetsbrev/utkast", data={"csrf": csrf(page.text), "tertial": TERTIAL})
    r = kari.post("/gruppe/nyhetsbrev/publiser", data={"csrf": csrf(page.text),
                                                      "tertial": TERTIAL})
    assert r.status_code == 409 and "må godkjennes" in r.text
    r = kari.post("/gruppe/nyhetsbrev/rediger", data={
        "csrf": csrf(page.text), "tertial": TERTIAL, "title": "Ring 73 86 10 00"})
    assert r.status_code == 422 and "telefonnummer" in r.text
    assert 'value="Ring 73 86 10 00"' in r.text  # what was typed stays


def test_readers_read_and_change_nothing(board: Board) -> None:
    seeded(board)
    reader = board.signed_in("Komiteen", role="reader")
    page = reader.get(PAGE)
    assert page.status_code == 200 and "ikke endre det" in page.text
    assert 'action="/gruppe/nyhetsbrev/rediger"' not in page.text
    assert reader.get(f"/gruppe/nyhetsbrev/forhandsvis?tertial={TERTIAL}").status_code == 200
    r = reader.post("/gruppe/nyhetsbrev/godkjenn", data={"csrf": csrf(page.text),
                                                        "tertial": TERTIAL})
    assert r.status_code == 403
    assert board.client().get(PAGE).status_code == 303  # nobody signed in: the sign-in page
