"""Access: object-level checks on every read, refused tokens audited, every group read and
export in the audit log, and `meld audit` lists it."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from intake import services
from intake.cli.main import main
from intake.domain.model import Actor, PermissionDenied, Role
from storage import models as m
from tests.doors.conftest import Door, report_body, submit

REPORTER = Actor("web:reporter-a", Role.REPORTER)
OTHER = Actor("web:reporter-b", Role.REPORTER)


def audit(door: Door, action: str) -> list[m.AuditEvent]:
    with door.ctx.db.reading() as session:
        return list(session.scalars(
            select(m.AuditEvent).where(m.AuditEvent.action == action).order_by(m.AuditEvent.id)))


def report_id(door: Door, reference: str) -> int:
    with door.ctx.db.reading() as session:
        return session.scalar(select(m.Report.id).where(m.Report.reference == reference))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- tokens -------------------------------------------------------------------------


def test_revoked_expired_and_unknown_tokens_are_401_and_audited(door: Door,
                                                                api: httpx.Client) -> None:
    revoked = door.token(name="revoked")
    expired = door.token(name="expired")
    assert api.get("/api/v1/reports", headers=bearer(revoked)).status_code == 200
    services.revoke_token(ctx=door.ctx, name="revoked")
    with door.ctx.db.transaction() as session:
        session.execute(update(m.ApiToken).where(m.ApiToken.name == "expired").values(
            expires_at=door.ctx.clock() - timedelta(seconds=1)))
    for token in (revoked, expired, "meld_not-a-token", "x" * 201):
        r = api.get("/api/v1/reports", headers=bearer(token))
        assert r.status_code == 401, token
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["code"] == "invalid_token"
    failed = audit(door, "auth_failed")
    assert [(e.actor_id.split(":")[-1], e.details["reason"]) for e in failed] == [
        ("revoked", "revoked"), ("expired", "expired"), ("?", "unknown"), ("?", "malformed")]
    for event in failed:  # the presented token is never written down
        assert revoked not in str(event.details) and expired not in str(event.details)
    assert audit(door, "list")[0].actor_id.endswith(":revoked")  # the one good request


def test_a_token_of_the_wrong_role_is_403_and_audited(door: Door, api: httpx.Client) -> None:
    token = door.token(name="wrong-role")
    with door.ctx.db.transaction() as session:  # a token row no group role stands behind
        session.execute(update(m.ApiToken).where(m.ApiToken.name == "wrong-role").values(
            role=Role.REPORTER.value))
    ref = submit(api)["reference"]
    for method, path in (("GET", "/api/v1/reports"), ("GET", f"/api/v1/reports/{ref}"),
                         ("GET", "/api/v1/reports/stats?period=2026"),
                         ("POST", f"/api/v1/reports/{ref}/reopen")):
        r = api.request(method, path, headers=bearer(token))
        assert r.status_code == 403, path
        assert r.json()["code"] == "group_only"
    denied = audit(door, "denied")
    assert [e.details["attempted"] for e in denied] == [
        "api:list_reports", "api:get_report", "api:report_stats", "api:reopen"]
    assert all(e.actor_role == "reporter" and e.actor_id.endswith(":wrong-role")
               for e in denied)
    assert audit(door, "read") == [] and audit(door, "list") == []


def test_no_token_is_401_on_every_group_endpoint(door: Door, api: httpx.Client) -> None:
    ref = submit(api)["reference"]
    schema = api.get("/openapi.json").json()
    group_ops = [(method.upper(), path.replace("{reference}", ref))
                 for path, ops in schema["paths"].items() for method, op in ops.items()
                 if "working group" in op.get("tags", ())]
    assert len(group_ops) >= 14  # every one of them, whatever is added later
    for method, path in group_ops:
        r = api.request(method, path, json={}, params={"period": "2026"})
        assert r.status_code == 401, (method, path)


# --- object-level checks for reporters -------------------------------------------------


def test_a_reporter_cannot_read_or_answer_another_reporters_report(door: Door) -> None:
    ctx = door.ctx
    ref = services.submit_report(ctx=ctx, actor=REPORTER, draft=services.ReportDraft(
        **{k: v for k, v in report_body().items() if k != "subcategory"})).reference
    assert services.get_report(ctx=ctx, actor=REPORTER, reference=ref).reference == ref
    with pytest.raises(PermissionDenied) as denied:
        services.get_report(ctx=ctx, actor=OTHER, reference=ref)
    assert denied.value.code == "not_your_report"
    with pytest.raises(PermissionDenied):
        services.reporter_answer(ctx=ctx, actor=OTHER, reference=ref, text="Jeg svarer.")
    with pytest.raises(PermissionDenied):
        services.list_reports(ctx=ctx, actor=OTHER)
    with pytest.raises(PermissionDenied):
        list(services.export_rows(ctx=ctx, actor=OTHER))
    rid = report_id(door, ref)
    assert [(e.actor_id, e.report_id) for e in audit(door, "read_denied")] == [(OTHER.identity,
                                                                                rid)]
    assert [(e.actor_id, e.report_id) for e in audit(door, "answer_denied")] == [
        (OTHER.identity, rid)]
    with door.ctx.db.reading() as session:
        assert session.scalar(select(m.Message.id)) is None  # the answer was not stored


def test_the_web_shows_a_browser_only_its_own_reports(door: Door, api: httpx.Client) -> None:
    receipt = submit(api)
    stranger = door.client()
    page = stranger.get("/mine")
    assert page.status_code == 200 and receipt["reference"] not in page.text
    # a status link is the reporter's capability; a guessed or altered one finds nothing
    token = receipt["status_url"].rsplit("/", 1)[1]
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    assert stranger.get(f"/status/{forged}").status_code == 404
    assert stranger.get(f"/api/v1/status/{forged}").status_code == 404
    assert stranger.post(f"/api/v1/status/{forged}/answers",
                         json={"text": "hei"}).status_code == 404


# --- every group read and export is audited, and `meld audit` shows it ------------------


def test_every_group_read_and_export_is_audited_and_listed(
        door: Door, api: httpx.Client, group: httpx.Client,
        capsys: pytest.CaptureFixture[str]) -> None:
    ref = submit(api)["reference"]
    rid = report_id(door, ref)
    assert group.get(f"/api/v1/reports/{ref}").status_code == 200
    assert group.get("/api/v1/reports").status_code == 200
    assert group.get("/api/v1/reports/stats", params={"period": "2026"}).status_code == 200
    settings = door.ctx.settings
    assert main(["reports", "show", ref], settings=settings) == 0
    assert main(["export"], settings=settings) == 0
    capsys.readouterr()

    reads = audit(door, "read")
    assert [(e.actor_id, e.report_id) for e in reads] == [
        ("token:1:kari", rid), (reads[1].actor_id, rid)]
    assert reads[1].actor_id.startswith("cli:") and reads[1].actor_role == "admin"
    assert [e.details for e in audit(door, "list")] == [{"count": 1}]
    assert [e.details.get("kind", e.details.get("format")) for e in audit(door, "export")] == [
        "period_report", "csv"]

    assert main(["audit", "--access"], settings=settings) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[4] for line in out] == ["read", "list", "export", "read", "export"]
    assert ref in out[0] and "token:1:kari" in out[0]

    assert main(["audit", "--report", ref.lower(), "--format", "csv"], settings=settings) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["action"] for r in rows] == ["submitted", "read", "read"]
    assert {r["reference"] for r in rows} == {ref}
    # reading the log is itself logged
    assert [e.details for e in audit(door, "audit_read")] == [
        {"count": 5}, {"count": 3, "reference": ref}]

    assert main(["audit", "--action", "auth_failed"], settings=settings) == 0
    assert capsys.readouterr().out.strip() == "Ingen hendelser i revisjonsloggen."
    assert main(["audit", "--since", "2999-01-01", "--format", "csv"], settings=settings) == 0
    assert capsys.readouterr().out.strip() == ",".join(
        ("id", "at", "actor", "role", "action", "reference", "details"))


def test_audit_log_needs_the_group(door: Door) -> None:
    from intake.services import audit as audit_log

    with pytest.raises(PermissionDenied):
        audit_log.list_events(ctx=door.ctx, actor=REPORTER)
