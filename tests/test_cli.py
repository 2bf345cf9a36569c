"""`vereda` as IT staff and scripts use it: real processes, real files, exit codes and JSON on the right stream."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import __version__

CASE4 = {"age": 40, "sex": "F", "symptoms": {"dolor_pecho": 7, "dificultad_respirar": 9, "fatiga": 8}}


def vereda(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], input=stdin, capture_output=True, text=True,
                          timeout=120)


def test_version():
    p = vereda("--version")
    assert p.returncode == 0 and p.stdout.strip() == f"vereda {__version__}"


def test_diagnose_file(tmp_path: Path):
    f = tmp_path / "case.json"
    f.write_text(json.dumps(CASE4))
    p = vereda("diagnose", "--input", str(f))
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["severity"] == "ENFERMEDAD_AGUDA" and r["requires_immediate_attention"] is True


def test_diagnose_stdin_accepts_origin_spelling():
    p = vereda("diagnose", "--input", "-",
               stdin=json.dumps({"age": 40, "sex": "F", "symptoms": {"dolor_pecho": 10, "Tos": 10,
                                                                      "dificultad_respirar": 10}}))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["requires_immediate_attention"] is True


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        ('{"age": 40, "sex": "F", "symptoms": {"fiebre": 3, "tos": 2}}', "too_few_findings", "symptoms"),
        ('{"age": 40, "sex": "F", "symptoms": {"fiebre": 3, "tos": 2, "gripa": 2}}', "unknown_symptom",
         "symptoms.gripa"),
        ('{"age": 400, "sex": "F", "symptoms": {"fiebre": 3, "tos": 2, "nausea": 2}}', "out_of_range", "age"),
        ('{"age": 40, "sex": "F", "symptoms": {"fiebre": "alta", "tos": 2, "nausea": 2}}', "wrong_type",
         "symptoms.fiebre"),
        ('{"age": 40, "sex": "F", "symptoms": ', "invalid_json", None),
    ],
)
def test_invalid_input_exits_2_with_error_json(payload, code, field):
    p = vereda("--lang", "en", "diagnose", "--input", "-", stdin=payload)
    assert p.returncode == 2
    assert p.stdout == ""
    err = json.loads(p.stderr)["error"]
    assert (err["code"], err["field"]) == (code, field)
    assert "Traceback" not in p.stderr and err["message"]


def test_error_messages_default_to_spanish():
    p = vereda("diagnose", "--input", "-", stdin='{"age": 40, "sex": "F", "symptoms": {"fiebre": 3}}')
    assert p.returncode == 2
    assert "hallazgos" in json.loads(p.stderr)["error"]["message"]


def test_batch_keeps_order_and_reports_bad_lines(tmp_path: Path):
    lines = [json.dumps(CASE4), '{"age": 40}', "", json.dumps({**CASE4, "age": 70})]
    f = tmp_path / "batch.jsonl"
    f.write_text("\n".join(lines) + "\n")
    p = vereda("diagnose", "--batch", str(f))
    assert p.returncode == 2
    out = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(out) == 3  # blank lines are skipped
    assert out[0]["severity"] == "ENFERMEDAD_AGUDA"
    assert out[1]["error"]["code"] == "missing_field"
    assert "severity" in out[2]
    assert json.loads(p.stderr.splitlines()[0])["line"] == 2


def test_batch_all_valid_exits_0(tmp_path: Path):
    f = tmp_path / "batch.jsonl"
    f.write_text("\n".join(json.dumps(CASE4) for _ in range(20)))
    p = vereda("diagnose", "--batch", str(f))
    assert p.returncode == 0, p.stderr
    assert len(p.stdout.splitlines()) == 20


def test_missing_file_is_a_clear_error():
    p = vereda("diagnose", "--input", "/nonexistent/case.json")
    assert p.returncode == 2
    assert json.loads(p.stderr)["error"]["code"] == "unreadable_input"


def test_broken_bundle_is_a_message_not_a_traceback(tmp_path: Path):
    p = vereda("diagnose", "--bundle", str(tmp_path), "--input", "-", stdin=json.dumps(CASE4))
    assert p.returncode == 1
    err = json.loads(p.stderr)["error"]
    assert err["code"] == "bundle_error" and "manifest.json" in err["message"]
    assert "Traceback" not in p.stderr
    # ...while the technician finds the whole story in the log.
    log = (Path(os.environ["VEREDA_LOG_DIR"]) / "vereda.log").read_text(encoding="utf-8")
    assert "BundleError" in log and str(tmp_path) in log


# --- hostile or careless input: `vereda diagnose` exits 0 or 2, never 1 with internal_error ------------------------
@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ('{"age": 40, "sex": "F", "symptoms": {"dolor_pecho": 7, "dificultad_respirar": 9, "fatiga": 8}, '
         '"nota": "señora de Añasco"}'.encode("latin-1"), "invalid_json"),
        (b"[" * 400_000 + b"]" * 400_000, "invalid_json"),
        (b'{"age": ' + b"9" * 5000 + b', "sex": "F", "symptoms": {}}', "invalid_json"),
        (b'{"age": ' + b"9" * 400 + b', "sex": "F", "symptoms": {"fiebre": 3, "tos": 2, "nausea": 2}}',
         "out_of_range"),
        (b'{"age": 40, "sex": "F", "symptoms": {"\\ud800": 3, "tos": 2, "nausea": 2}}', "unknown_symptom"),
        (b'{"age": 40, "sex": "F", "symptoms": {"' + b"x" * 5000 + b'": 3, "tos": 2, "nausea": 2}}',
         "unknown_symptom"),
    ],
    ids=["latin-1 file", "nested 400,000 deep", "5,000-digit number", "400-digit age", "lone surrogate key",
         "5,000-character key"],
)
def test_hostile_files_exit_2_with_a_short_error(tmp_path: Path, payload: bytes, code: str) -> None:
    f = tmp_path / "case.json"
    f.write_bytes(payload)
    for args in (("--input", str(f)), ("--batch", str(f))):
        p = subprocess.run([sys.executable, "-m", "app.cli", "diagnose", *args], capture_output=True, timeout=120)
        assert p.returncode == 2, (args, p.stderr[-500:])
        err = json.loads(p.stderr.decode("utf-8").splitlines()[0])
        assert err["error"]["code"] == code
        assert len(err["error"]["message"]) < 300  # never the client's kilobytes echoed back
        assert b"Traceback" not in p.stderr


def test_one_bad_line_does_not_abort_a_batch(tmp_path: Path) -> None:
    f = tmp_path / "batch.jsonl"
    f.write_bytes(json.dumps(CASE4).encode() + b"\n" + b"[" * 100_000 + b"\n" + "{\"age\": 40, \"sex\": \"Ñ\"}"
                  .encode("latin-1") + b"\n" + json.dumps(CASE4).encode() + b"\n")
    p = subprocess.run([sys.executable, "-m", "app.cli", "diagnose", "--batch", str(f)], capture_output=True,
                       timeout=120)
    assert p.returncode == 2
    out = [json.loads(line) for line in p.stdout.decode().splitlines()]
    assert [("severity" in o, o.get("error", {}).get("code")) for o in out] == [
        (True, None), (False, "invalid_json"), (False, "invalid_json"), (True, None)]


def test_diagnose_uses_the_bundle_the_desktop_app_uses(tmp_path: Path) -> None:
    """After a model update is installed for a clinic folder, the CLI answers with it, like the GUI."""
    from app.sync.updates import ActivePointer, models_dir, write_active
    from tests.server.helpers import signed_bundle

    data = tmp_path / "clinic"
    signed_bundle(models_dir(data) / "2099.1.0", "2099.1.0")
    write_active(data, ActivePointer("2099.1.0", None, "network"))
    p = vereda("diagnose", "--data-dir", str(data), "--input", "-", stdin=json.dumps(CASE4))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["model"]["version"] == "2099.1.0"
    shipped = vereda("diagnose", "--input", "-", stdin=json.dumps(CASE4))
    assert json.loads(shipped.stdout)["model"]["version"] != "2099.1.0"
