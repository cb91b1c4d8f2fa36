"""Report text, refused identity numbers and status tokens never reach the logs.

Logs are captured at INFO, the level `meld serve` runs at by default (MELD_LOG_LEVEL).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from faker import Faker

from intake import services
from intake.settings import Settings
from tests.doors.conftest import (
    GROUP,
    SECRET,
    Door,
    csrf_of,
    form_data,
    report_body,
    start_door,
    status_token,
    submit,
)

MARK = "Sjiraffepikrise-QX7"  # distinctive: appears nowhere else


def _leaks(caplog: pytest.LogCaptureFixture, *secrets: str) -> list[str]:
    """Log lines (message, arguments or traceback) that contain any of the secrets."""
    found = []
    for record in caplog.records:
        if record.name.split(".")[0] in ("httpx", "httpcore"):
            continue  # the test's own client, not the server
        parts = [record.getMessage(), repr(record.args), record.exc_text or ""]
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
        text = " ".join(parts)
        if any(s in text for s in secrets):
            found.append(f"{record.name}:{record.levelname}: {record.getMessage()[:200]}")
    return found


def test_report_text_is_not_logged(door: Door, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    ssn = Faker("no_NO").ssn()
    api = door.client()
    # accepted through the API, read and answered by the group, notices delivered
    receipt = submit(api, description=f"{MARK} epikrise mangler")
    ref = receipt["reference"]
    group = door.client(headers={"Authorization": f"Bearer {door.token()}"})
    assert group.get(f"/api/v1/reports/{ref}").status_code == 200
    services.reply(ctx=door.ctx, actor=GROUP, reference=ref, text=f"{MARK} svar")
    api.post(f"/api/v1/status/{status_token(receipt)}/answers", json={"text": f"{MARK} takk"})
    door.drain_outbox()
    # refused: an identity number, and a warning that is not confirmed
    r = api.post("/api/v1/reports", json=report_body(description=f"{MARK} fnr {ssn}"))
    assert r.status_code == 422
    r = api.post("/api/v1/reports", json=report_body(description=f"{MARK} ring 918 76 543"))
    assert r.status_code == 422
    # through the web form
    browser = door.client()
    csrf = csrf_of(browser.get("/").text)
    assert browser.post("/", data=form_data(csrf, description=f"{MARK} fnr {ssn}")
                        ).status_code == 422
    assert browser.post("/", data=form_data(csrf, description=f"{MARK} web")
                        ).status_code == 303
    assert door.report_count() == 2
    assert any(r.name == "meld.outbox" for r in caplog.records)  # capture works
    assert _leaks(caplog, MARK, ssn) == []


def test_status_token_is_not_logged_when_the_database_is_down(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The private status link is a secret; a 503 must not write it to the log."""
    folder = tmp_path / "gone"
    # no schedulers: their first check at start-up writes to the folder being removed
    door = start_door(Settings(database_url=f"sqlite:///{folder}/meld.db",
                               secret_key=SECRET, run_outbox_worker=False,
                               run_promise_scheduler=False, run_cluster_alerts=False,
                               run_suggest_refresh=False))
    shutil.rmtree(folder)
    try:
        caplog.set_level(logging.INFO)
        token = "5eb1e7" * 8
        client = door.client()
        assert client.get(f"/api/v1/status/{token}").status_code == 503
        r = client.post(f"/api/v1/status/{token}/answers", json={"text": "hei"})
        assert r.status_code == 503
        assert any(r.name == "meld.app" for r in caplog.records)  # the outage is logged
        assert _leaks(caplog, token) == []
    finally:
        door.close()
        door.server.stop(wait=False)
