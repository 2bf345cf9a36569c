"""Property-based: schemathesis generates requests for every operation of the service's OpenAPI schema, valid and
invalid by the schema (positive and negative modes), and sends them to a real `vereda-server serve` process. No
answer may be a 5xx, and the server's log may hold no traceback (issue 14).

The operations are read at collection time from the schema the app builds in process (the same code the server
runs; the test also checks the served /openapi.json lists the same operations), so a new route is fuzzed without
anyone adding it here. The run is bounded (`EXAMPLES` per mode per operation, no shrinking, no example database)
to stay within a minute on two cores; `VEREDA_FUZZ_EXAMPLES` raises it for a longer run. Rate limits are on, set
high, so the shared database buckets are exercised too. A summary per operation is printed (`pytest -s`) and
written to `fuzz-summary.json` in the test's folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402 - after the skip above
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

from tests.server.helpers import METRICS_AUTH, Server, auth, enroll, open_sessions, signed_bundle  # noqa: E402

EXAMPLES = int(os.environ.get("VEREDA_FUZZ_EXAMPLES", "25"))
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
TIMEOUT = 30
PUBLISHED = "2026.11.20"  # in production during the run, so the model routes answer with a real archive


def _schema() -> Any:
    from server.core.config import Settings
    from server.main import create_app

    folder = Path(tempfile.mkdtemp(prefix="vereda-fuzz-schema-"))
    app = create_app(Settings.load(database_url=f"sqlite:///{folder / 'schema.db'}", data_dir=folder))
    return schemathesis.openapi.from_dict(app.openapi())


SCHEMA = _schema()
OPERATIONS = {op.label: op for op in (result.ok() for result in SCHEMA.get_all_operations())}
TALLY: dict[str, Counter[str]] = {}


@pytest.fixture(scope="module")
def fuzzed(start_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("fuzz")
    database = f"sqlite:///{folder / 'vereda-server.db'}"
    server: Server = start_server(database, env={"VEREDA_SERVER_RATE_LIMIT_PER_SECOND": "5000",
                                                 "VEREDA_SERVER_RATE_LIMIT_BURST": "100000"})
    served = requests.get(f"{server.url}/openapi.json", timeout=TIMEOUT).json()
    assert {f"{m.upper()} {p}" for p, ops in served["paths"].items() for m in ops} == set(OPERATIONS)
    from server.db import crud
    from server.registry import prepare

    with open_sessions(database)() as session:
        model, _ = crud.add_model(session, prepare(signed_bundle(folder / "bundle", PUBLISHED)), "fuzz")
        crud.promote(session, model.version, "fuzz")
        session.commit()
    state = {"server": server, "device": enroll(server.url, database), "sacrificed": enroll(server.url, database),
             "folder": folder}
    yield state
    log = server.log.read_text(errors="replace")
    summary = {label: dict(TALLY.get(label, Counter())) for label in sorted(OPERATIONS)}
    summary["tracebacks in the log"] = log.count("Traceback")  # type: ignore[assignment]
    (folder / "fuzz-summary.json").write_text(json.dumps(summary, indent=1))
    print("\nschemathesis against vereda-server (examples per operation, by status class):")
    for label in sorted(OPERATIONS):
        counts = TALLY.get(label, Counter())
        print(f"  {label:42s} {sum(counts.values()):4d} requests  " +
              " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    print(f"  tracebacks in the server log: {log.count('Traceback')}")
    assert "Traceback" not in log, log[-4000:]


def _credential(label: str, case: Any, mode: GenerationMode, state: dict[str, Any]) -> None:
    """Valid requests carry a valid credential, so the fuzzing reaches past authentication; invalid ones keep the
    credential schemathesis made up (missing, empty, garbage), which is an attack of its own."""
    if mode is GenerationMode.NEGATIVE and case.headers and "Authorization" in case.headers:
        return
    if label == "GET /metrics":
        credential = METRICS_AUTH
    elif label == "POST /v1/device/revoke":
        credential = auth(state["sacrificed"])  # revoking the main device would turn every later call into a 401
    else:
        credential = auth(state["device"])
    case.headers = {**(case.headers or {}), **credential}


def _fuzz(label: str, mode: GenerationMode, state: dict[str, Any], session: requests.Session) -> list[str]:
    """Run one operation's examples in one generation mode; the problems found (5xx, an error of another shape)."""
    operation, server, tally = OPERATIONS[label], state["server"], TALLY.setdefault(label, Counter())
    failures: list[str] = []
    # Valid requests for a bundle name the published version, so ranges are served (or refused) for real.
    pinned = {"version": PUBLISHED} if "{version}" in operation.path and mode is GenerationMode.POSITIVE else None

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=pinned))
    def run(case: Any) -> None:
        _credential(label, case, mode, state)
        response = case.call(base_url=server.url, session=session, timeout=TIMEOUT)
        tally[f"{response.status_code // 100}xx"] += 1
        if response.status_code >= 500:
            failures.append(f"{mode.value}: {response.status_code} {response.text[:200]}")
        elif response.status_code >= 400 and response.request.method != "HEAD":
            body = json.loads(response.content)  # every error is JSON, whatever was sent
            error = body.get("error") if isinstance(body, dict) else None
            if not isinstance(error, dict) or set(error) != {"code", "field", "message", "request_id"}:
                failures.append(f"{mode.value}: {response.status_code} without the error shape")

    try:
        run()
    except Unsatisfiable:
        # An operation with nothing to send (GET /health) has no invalid request to make.
        assert mode is GenerationMode.NEGATIVE, label
    return failures


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_no_generated_request_gets_a_5xx(fuzzed: dict[str, Any], label: str) -> None:
    session = requests.Session()
    failures = [problem for mode in MODES for problem in _fuzz(label, mode, fuzzed, session)]
    assert not failures, failures[:5]
