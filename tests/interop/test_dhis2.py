"""`vereda-server report dhis2`: a week of a real central service (records sent through /v1/feedback:batch) as a
DHIS2 dataValueSets payload and ADX, pushed to a DHIS2 stand-in on 127.0.0.1; re-sending the week changes nothing,
and a late record replaces its cell instead of adding to it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import requests

from server.reports.dhis2 import ADX_NAMESPACE, load_mapping
from tests.interop.dhis2_stub import Dhis2Stub
from tests.server.helpers import ROOT, Server, auth, enroll, feedback_record

TOKEN = "d2pat_prueba0123456789abcdefghijklmnopqrstuv"
WEEK = "2026-W48"
# (clinic, code, age, sex) sent for WEEK; the last column says in which cell it must land.
SENT = [
    ("a", "A97", 30, "F"), ("a", "A97", 31, "F"), ("a", "A97.1", 44, "F"), ("a", "A97.2", 3, "M"),
    ("a", "J06.9", 10, "F"), ("a", "J06.9", 12, "F"), ("a", "Z00.0", 40, "M"),  # Z00.0: no data element
    ("b", "B54", 60, "M"), ("b", "B50.9", 95, "M"), ("b", "A15", 15, "F"),
    ("c", "A97", 20, "F"),  # clinic c has no org unit in the mapping
]
EXPECTED = {  # (org unit, data element, combo) -> count
    ("OU_A", "VRD_DENGUE", "VRD_COC_15_49_F"): 3, ("OU_A", "VRD_DENGUE", "VRD_COC_0_4_M"): 1,
    ("OU_A", "VRD_ARI_UPPER", "VRD_COC_5_14_F"): 2, ("OU_B", "VRD_MALARIA", "VRD_COC_50_PLUS_M"): 2,
    ("OU_B", "VRD_TB_PULMONARY", "VRD_COC_15_49_F"): 1,
}


def server_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server", *args], capture_output=True, text=True, timeout=180,
                          cwd=ROOT)


def send(server: Server, device: dict[str, Any], code: str, age: float, sex: str, week: str = WEEK) -> None:
    record = feedback_record(device["clinic_id"], week=week, confirmed_diagnosis=code)
    record["request"]["age"], record["request"]["sex"] = age, sex
    record["response_summary"]["top_condition"] = code
    reply = requests.post(f"{server.url}/v1/feedback:batch", json={"records": [record]}, headers=auth(device),
                          timeout=30)
    assert reply.status_code == 200 and reply.json()["accepted"] == 1, reply.text


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("central")
    server = Server(f"sqlite:///{work / 'vereda-server.db'}", work)
    try:
        devices = {k: enroll(server.url, server.database, clinic=f"Puesto de salud {k.upper()}") for k in "abc"}
        for clinic, code, age, sex in SENT:
            send(server, devices[clinic], code, age, sex)
        send(server, devices["a"], "A97", 30, "F", week="2026-W47")  # another week: not in this report
        mapping = (ROOT / "server" / "reports" / "data" / "dhis2.toml").read_text(encoding="utf-8").replace(
            "[org_units]\n", f'[org_units]\n"{devices["a"]["clinic_id"]}" = "OU_A"\n'
                             f'"{devices["b"]["clinic_id"]}" = "OU_B"\n')
        (work / "mapping.toml").write_text(mapping, encoding="utf-8")
        (work / "token").write_text(TOKEN + "\n")
        yield {"server": server, "devices": devices, "work": work, "mapping": work / "mapping.toml",
               "db": ("--database", server.database)}
    finally:
        server.stop()


def report(central: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    return server_cli("report", "dhis2", "--week", WEEK, *central["db"], "--mapping", str(central["mapping"]), *args)


def nonzero(values: list[dict[str, Any]]) -> dict[tuple[str, str, str], int]:
    return {(v["orgUnit"], v["dataElement"], v["categoryOptionCombo"]): int(v["value"]) for v in values
            if v["value"] != "0"}


def test_the_weeks_payload_has_the_documented_format_and_counts(central: dict[str, Any]):
    out = central["work"] / "semana.json"
    p = report(central, "--dry-run", "--output", str(out))
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert summary["records"] == len(SENT) and summary["reported"] == sum(EXPECTED.values())
    assert summary["unmapped_codes"] == {"Z00.0": 1}
    assert summary["unmapped_clinics"] == {central["devices"]["c"]["clinic_id"]: 1}
    payload = json.loads(out.read_text(encoding="utf-8"))
    assert payload["dataSet"] == "VRD_WEEKLY" and payload["period"] == "2026W48"
    mapping = load_mapping(central["mapping"])
    grid = 2 * len({r.id for r in mapping.data_elements}) * 8
    assert len(payload["dataValues"]) == summary["data_values"] == grid
    for v in payload["dataValues"]:
        assert set(v) == {"dataElement", "period", "orgUnit", "categoryOptionCombo", "value"}
        assert v["period"] == "2026W48" and v["orgUnit"] in ("OU_A", "OU_B") and v["value"].isdigit()
        assert v["categoryOptionCombo"] in mapping.category_option_combos.values()
    assert nonzero(payload["dataValues"]) == EXPECTED


def test_the_same_counts_as_adx(central: dict[str, Any]):
    out = central["work"] / "semana.xml"
    assert report(central, "--dry-run", "--output", str(out)).returncode == 0
    root = ET.parse(out).getroot()
    assert root.tag == f"{{{ADX_NAMESPACE}}}adx" and root.get("exported")
    groups = root.findall(f"{{{ADX_NAMESPACE}}}group")
    assert {g.get("orgUnit") for g in groups} == {"OU_A", "OU_B"}
    combo = {v: k.split("|") for k, v in load_mapping(central["mapping"]).category_option_combos.items()}
    sexes = {"F": "VRD_SEX_F", "M": "VRD_SEX_M"}
    found = Counter()
    for g in groups:
        assert g.get("period") == "2026-11-23/P7D" and g.get("dataSet") == "VRD_WEEKLY"
        for v in g.findall(f"{{{ADX_NAMESPACE}}}dataValue"):
            if v.get("value") != "0":
                key = (g.get("orgUnit"), v.get("dataElement"), v.get("VRD_AGE"), v.get("VRD_SEX"))
                found[key] = int(v.get("value"))
    assert found == {(ou, de, combo[c][0], sexes[combo[c][1]]): n for (ou, de, c), n in EXPECTED.items()}


def test_pushing_twice_changes_nothing_and_a_late_record_replaces_its_cell(central: dict[str, Any]):
    mapping = load_mapping(central["mapping"])
    known = ({r.id for r in mapping.data_elements}, {"OU_A", "OU_B"}, set(mapping.category_option_combos.values()))
    with Dhis2Stub(TOKEN, *known) as dhis2:
        url = ("--url", dhis2.url, "--token-file", str(central["work"] / "token"))
        first = report(central, *url)
        assert first.returncode == 0, first.stderr
        pushed = json.loads(first.stdout)["push"]
        assert pushed["status"] == "SUCCESS" and pushed["imported"] == len(dhis2.values) > 0 and pushed["updated"] == 0
        assert dhis2.requests[0]["params"]["importStrategy"] == "CREATE_AND_UPDATE"
        assert dhis2.requests[0]["params"]["idScheme"] == "CODE"
        after_first = dict(dhis2.values)
        assert {(k[2], k[0], k[3]): int(v) for k, v in after_first.items() if v != "0"} == EXPECTED

        second = report(central, *url)
        assert second.returncode == 0, second.stderr
        again = json.loads(second.stdout)["push"]
        assert again["imported"] == 0 and again["updated"] == len(after_first)
        assert dhis2.values == after_first  # re-sent: nothing doubled, nothing changed

        # A clinic syncs late: its record lands in the week, and the re-sent week replaces the cell's count.
        send(central["server"], central["devices"]["a"], "A97", 33, "F")
        third = report(central, *url)
        assert third.returncode == 0, third.stderr
        key = ("VRD_DENGUE", "2026W48", "OU_A", "VRD_COC_15_49_F", "default")
        assert dhis2.values[key] == "4" and len(dhis2.values) == len(after_first)

        wrong = central["work"] / "wrong-token"
        wrong.write_text("d2pat_otro\n")
        refused = report(central, "--url", dhis2.url, "--token-file", str(wrong))
        assert refused.returncode == 2 and "token" in json.loads(refused.stderr)["error"]["message"]
    missing = report(central)
    assert missing.returncode == 2 and "--dry-run" in json.loads(missing.stderr)["error"]["message"]


def test_a_bad_week_or_mapping_is_the_operators_to_fix(central: dict[str, Any], tmp_path: Path):
    p = server_cli("report", "dhis2", "--week", "2026-48", *central["db"], "--dry-run")
    assert p.returncode == 2 and "ISO week" in json.loads(p.stderr)["error"]["message"]
    (tmp_path / "m.toml").write_text('[dhis2]\ndata_set = "X"\n')
    p = server_cli("report", "dhis2", "--week", WEEK, *central["db"], "--dry-run", "--mapping",
                   str(tmp_path / "m.toml"))
    assert p.returncode == 2 and "mapping" in json.loads(p.stderr)["error"]["message"]


def test_values_dhis2_does_not_know_are_a_failed_push(central: dict[str, Any]):
    mapping = load_mapping(central["mapping"])
    # This instance has no OU_B: DHIS2 answers 409 with the conflicts, and keeps the values it knows.
    with Dhis2Stub(TOKEN, {r.id for r in mapping.data_elements}, {"OU_A"},
                   set(mapping.category_option_combos.values())) as dhis2:
        p = report(central, "--url", dhis2.url, "--token-file", str(central["work"] / "token"))
        assert p.returncode == 1
        error = json.loads(p.stderr)["error"]
        assert error["code"] == "dhis2_push_failed" and "orgUnit not found: OU_B" in error["message"]
        assert {k[2] for k in dhis2.values} == {"OU_A"}
