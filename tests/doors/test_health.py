"""/healthz, /readyz and what the doors say while the database is unreachable."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from intake.settings import Settings
from tests.doors.conftest import SECRET, Door, csrf_of, form_data, report_body, start_door


def test_healthz(api: httpx.Client) -> None:
    r = api.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert r.headers["cache-control"] == "no-store"


def test_readyz_with_database(api: httpx.Client) -> None:
    r = api.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok"}


def _pg_port_1() -> Settings:
    return Settings(database_url="postgresql+psycopg://postgres@127.0.0.1:1/x",
                    secret_key=SECRET, run_outbox_worker=False, run_promise_scheduler=False,
                    run_cluster_alerts=False, run_suggest_refresh=False)


def _sqlite_gone(tmp_path: Path) -> Settings:
    folder = tmp_path / "gone"
    # no schedulers either: their first check at start-up would create the file and keep a
    # connection to it open in the pool, and the folder's removal would go unnoticed
    return Settings(database_url=f"sqlite:///{folder}/meld.db", secret_key=SECRET,
                    run_outbox_worker=False, run_promise_scheduler=False,
                    run_cluster_alerts=False, run_suggest_refresh=False)


@pytest.fixture(params=["postgres_port_1", "sqlite_folder_removed"])
def dead_door(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Door]:
    """A running app whose database cannot be reached."""
    if request.param == "postgres_port_1":
        settings = _pg_port_1()
    else:
        settings = _sqlite_gone(tmp_path)
    d = start_door(settings)
    if request.param == "sqlite_folder_removed":
        shutil.rmtree(tmp_path / "gone")  # create_app made the folder; the file never existed
    try:
        yield d
    finally:
        d.close()
        d.server.stop(wait=False)


def test_readyz_without_database_is_503(dead_door: Door) -> None:
    r = dead_door.client().get("/readyz")
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "OperationalError"
    assert "127.0.0.1" not in r.text and "meld.db" not in r.text


def test_healthz_without_database_is_200(dead_door: Door) -> None:
    assert dead_door.client().get("/healthz").status_code == 200


def test_submit_without_database_is_503(dead_door: Door) -> None:
    client = dead_door.client()
    for headers in ({}, {"Idempotency-Key": "k-1"}):
        r = client.post("/api/v1/reports", json=report_body(), headers=headers)
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "database_unavailable"
        assert r.headers["retry-after"] == "10"
    # validation still answers without the database
    r = client.post("/api/v1/reports", json=report_body(category="nope"))
    assert r.status_code == 422


def test_group_api_without_database_is_503(dead_door: Door) -> None:
    client = dead_door.client(headers={"Authorization": "Bearer meld_whatever"})
    for r in (client.get("/api/v1/reports"), client.get("/api/v1/status/" + "a" * 48)):
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "database_unavailable"


def test_web_form_without_database_is_503_page(dead_door: Door) -> None:
    client = dead_door.client()
    page = client.get("/")
    assert page.status_code == 200
    csrf = csrf_of(page.text)
    r = client.post("/", data=form_data(csrf))
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "Epikrise kom aldri fram" in r.text  # the reporter's text is kept
    for path in ("/status/" + "a" * 48, "/mine"):
        r = client.get(path)
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("text/html")
        assert "Meld er utilgjengelig" in r.text
        assert r.headers["retry-after"] == "10"
