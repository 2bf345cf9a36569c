"""Feedback carries the findings looked for and found absent (`request.excluded_hpo_terms`, issue 18) on a real
`vereda-server` over SQLite and PostgreSQL: stored as sent and exported for retraining; an older clinic's record
without them still validates and is stored without the field (its hash, so its replays, unchanged); a term both
present and absent is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.server.helpers import Server, auth, create_pg_database, enroll, feedback_record, run_cli

ABSENT = "HP:0001634"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, start_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Server:
    if request.param == "sqlite":
        database = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'vereda-server.db'}"
    else:
        database = create_pg_database(request.getfixturevalue("pg_admin_url"))
    return start_server(database)  # type: ignore[no-any-return]


def test_absent_findings_are_stored_and_exported_and_older_records_unchanged(server: Server,
                                                                             tmp_path: Path) -> None:
    device = enroll(server.url, server.database)
    clinic = device["clinic_id"]
    marfan = feedback_record(clinic, confirmed_diagnosis="ORPHA:558")
    marfan["request"] = {**marfan["request"], "hpo_terms": ["HP:0001166"], "excluded_hpo_terms": [ABSENT]}
    older = feedback_record(clinic)  # no excluded_hpo_terms: what a clinic sent before issue 18
    both = feedback_record(clinic)
    both["request"] = {**both["request"], "hpo_terms": [ABSENT], "excluded_hpo_terms": [ABSENT]}
    bad_id = feedback_record(clinic)
    bad_id["request"] = {**bad_id["request"], "excluded_hpo_terms": ["convulsiones"]}

    def post(records: list[dict[str, Any]]) -> dict[str, Any]:
        answer = requests.post(f"{server.url}/v1/feedback:batch", json={"records": records}, headers=auth(device),
                               timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    first = post([marfan, older, both, bad_id])
    assert [r["status"] for r in first["results"]] == ["accepted", "accepted", "invalid", "invalid"]
    assert "both in hpo_terms and excluded_hpo_terms" in first["results"][2]["error"]["message"]
    assert post([marfan, older])["results"] == first["results"][:2]  # replays answer the same: same stored hash

    export = tmp_path / "feedback.jsonl"
    done = run_cli("export-feedback", "--out", str(export), "--database", server.database, env=server.env)
    assert done.returncode == 0, done.stderr
    exported = {r["uuid"]: r for r in map(json.loads, export.read_text(encoding="utf-8").splitlines())}
    assert exported[marfan["uuid"]] == marfan
    assert exported[older["uuid"]] == older and "excluded_hpo_terms" not in exported[older["uuid"]]["request"]
