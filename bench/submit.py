"""Submitting reports through POST /api/v1/reports over real HTTP (one keep-alive client each)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx

from bench.load import OK, BenchFailed, Client, Operation

PATH = "/api/v1/reports"


def today_oslo() -> date:
    """The service judges dates in Europe/Oslo; a UTC date could be "tomorrow" there."""
    return datetime.now(ZoneInfo("Europe/Oslo")).date()


def report_body() -> dict[str, Any]:
    return {
        "kind": "deviation",
        "category": "discharge_summary",
        "subcategory": "missing",
        "description": "Epikrise manglet ved utskriving fra medisinsk avdeling; "
                       "fastlegen fikk ingen beskjed.",
        "occurred_on": today_oslo().isoformat(),
        "severity": "minor",
        "no_patient_identifiers": True,
        "reporter_party": "gp",
        "concerned_party": "hospital",
        "place": "trondheim",
    }


def _error_codes(response: httpx.Response) -> str:
    """The error's codes only (never texts, which may echo what was submitted)."""
    try:
        data = response.json()
    except ValueError:
        return "(no JSON body)"
    codes = [str(data.get("code"))] if isinstance(data, dict) else []
    for err in (data.get("errors") or []) if isinstance(data, dict) else []:
        codes.append(f"{err.get('field')}:{err.get('code')}")
    return ", ".join(codes)


def probe(base_url: str) -> None:
    """One submit before the load, so a refused body fails loudly instead of as 20k errors."""
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        r = client.post(PATH, json=report_body())
    if r.status_code != 201:
        raise BenchFailed(f"probe submit got HTTP {r.status_code} ({_error_codes(r)})")


def http_client(base_url: str) -> Client:
    """Clients on the stdlib's http.client: a keep-alive connection per thread, a pre-encoded
    body. It costs a fraction of httpx's CPU, which matters when the load generator and the
    server share two cores."""
    body = json.dumps(report_body()).encode()
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    url = urlsplit(base_url)

    @contextmanager
    def open_client() -> Iterator[Operation]:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30.0)
        try:

            def submit() -> str:
                conn.request("POST", PATH, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                return OK if response.status == 201 else f"HTTP {response.status}"

            yield submit
        finally:
            conn.close()

    return open_client

