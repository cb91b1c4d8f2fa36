"""schemathesis against Meld's own OpenAPI, over a real uvicorn server: no input gives a 5xx.

Every operation of /openapi.json is run with generated valid data, with valid data aimed at
a real report and status link, and with negative (schema-violating) data, under every
schemathesis check, with a triager's bearer token. Bounded: MAX_EXAMPLES per operation
and mode, derandomized, so a run takes seconds and repeats exactly.

Two checks are counted but do not fail the test, for reasons of the API's contract:
- positive_data_acceptance: business rules the schema cannot state (taxonomy codes,
  the identifier guard, the 5-year date window, references that must exist) refuse
  schema-valid data with 404/409/422, as they should;
- negative_data_rejection: the test injects the bearer token (so "missing Authorization"
  mutations still carry it) and unknown query parameters are ignored, as HTTP APIs do.
Every other check (server errors, status codes, content types, response schemas and
headers, auth enforcement, unsupported methods, ...) must pass for every case.
"""

from __future__ import annotations

import collections
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.doors.conftest import Door, report_body, status_token

MAX_EXAMPLES = 15  # per operation and mode: ~700 cases per database, ~15 s on a free core
TOLERATED = {"RejectedPositiveData", "AcceptedNegativeData"}


def _failures(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [f for e in exc.exceptions for f in _failures(e)]
    return [exc]


def _runner(strategy: Any, mode: str, label: str, base_url: str, auth: dict[str, str],
            cases: collections.Counter[str], failures: collections.Counter[tuple[str, str]],
            server_errors: list[str]) -> Any:
    @given(case=strategy)
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        cases[mode] += 1
        try:
            case.call_and_validate(base_url=base_url, headers=auth)
        except (Exception, BaseExceptionGroup) as exc:  # every finding; asserted at the end
            for failure in _failures(exc):
                kind = type(failure).__name__
                failures[(label, kind)] += 1
                if kind == "ServerError" or "server error" in str(failure).lower():
                    server_errors.append(f"{label} [{mode}]: {str(failure)[:400]}")

    return run


def test_openapi_fuzzing_finds_no_server_error(door: Door, api: Any) -> None:
    token = door.token(name="schemathesis")
    receipt = api.post("/api/v1/reports", json=report_body()).json()
    real = {"reference": receipt["reference"], "token": status_token(receipt)}
    schema = schemathesis.openapi.from_url(f"{door.url}/openapi.json")
    auth = {"Authorization": f"Bearer {token}"}
    cases: collections.Counter[str] = collections.Counter()
    failures: collections.Counter[tuple[str, str]] = collections.Counter()
    server_errors: list[str] = []
    operations = 0

    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        names = {p.name for p in operation.path_parameters}
        runs: list[tuple[str, Any]] = [
            ("positive", operation.as_strategy(generation_mode=GenerationMode.POSITIVE)),
            ("negative", operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)),
        ]
        if names:
            fixed = {name: real[name] for name in names}
            runs.append(("real", operation.as_strategy(
                generation_mode=GenerationMode.POSITIVE, path_parameters=fixed)))

        for mode, strategy in runs:
            run = _runner(strategy, mode, operation.label, door.url, auth, cases, failures,
                          server_errors)
            try:
                run()
            except Unsatisfiable:
                assert mode == "negative", f"{operation.label}: no {mode} case"  # no inputs

    total = sum(cases.values())
    print(f"\nschemathesis: {operations} operations, {total} cases {dict(cases)}, "
          f"5xx: {len(server_errors)}, other findings: {dict(failures)}")
    assert server_errors == []
    assert {k: v for k, v in failures.items() if k[1] not in TOLERATED} == {}
    assert operations >= 19 and total >= 25 * operations
