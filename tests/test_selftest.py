"""`vereda self-test` from source: it passes on a good tree, and each kind of breakage fails its own check.

The packaged program runs the same command in CI (.ci/run, after `python3 dev.py package`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import string
import subprocess
import sys
from pathlib import Path

import pytest

from app import selftest
from app.core.bundle import ModelBundle
from app.core.check_cases import CHECKS_FILE, ORIGIN_CASES
from app.core.engine import DiagnosisEngine
from app.core.signing import generate_key_pair, load_private_key, sign_bundle

ROOT = Path(__file__).resolve().parents[1]
DEV_PRIVATE_KEY = ROOT / "tests" / "fixtures" / "keys" / "dev-private.pem"
CASE_4 = {"age": 40, "sex": "F", "symptoms": {"dolor_pecho": 7, "dificultad_respirar": 9, "fatiga": 8}}


def copy_bundle(bundle_dir: Path, target: Path) -> Path:
    shutil.copytree(bundle_dir, target)
    return target


def add_checks(bundle: Path, checks: dict, *, list_in_manifest: bool = True) -> None:
    """Put a checks.json in the bundle, pin it in the manifest and sign again with the development key."""
    data = json.dumps(checks, ensure_ascii=False, indent=1).encode()
    (bundle / CHECKS_FILE).write_bytes(data)
    if list_in_manifest:
        manifest = json.loads((bundle / "manifest.json").read_bytes())
        manifest["files"][CHECKS_FILE] = hashlib.sha256(data).hexdigest()
        (bundle / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        sign_bundle(bundle, load_private_key(DEV_PRIVATE_KEY))


def test_origin_cases_are_the_ones_model_export_evaluates():
    from model_export import evaluate

    assert selftest.origin_cases() is ORIGIN_CASES  # one copy in the app, shared with the update client
    assert [evaluate.origin_request(s) for s, _ in evaluate.ORIGIN_CASES] == [c.request for c in ORIGIN_CASES]
    assert [e for _, e in evaluate.ORIGIN_CASES] == [c.severity_at_least for c in ORIGIN_CASES]
    assert tuple(bool(c.requires_immediate_attention) for c in ORIGIN_CASES) == evaluate.ORIGIN_ATTENTION


@pytest.mark.slow
def test_self_test_passes_from_source_and_reports_json():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    p = subprocess.run([sys.executable, "-m", "app.cli", "--lang", "en", "self-test", "--json"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    report = json.loads(p.stdout.strip().splitlines()[-1])
    assert report["ok"] and report["packaged"] is False
    checks = {c["id"]: c for c in report["checks"]}
    assert list(checks)[:3] == ["bundle.signature", "bundle.files", "engine.load"]
    assert [i for i in checks if i.startswith("case.origin.")] == [f"case.origin.{n}" for n in range(1, 6)]
    assert {"cases.bundle", "store.encrypted", "screen.consultation"} <= set(checks)
    assert all(c["ok"] for c in checks.values())
    for n in (3, 4, 5):
        assert checks[f"case.origin.{n}"]["data"]["requires_immediate_attention"] is True
    assert checks["bundle.signature"]["data"]["development_key"] is True
    screen = checks["screen.consultation"]
    assert screen["data"]["platform"] == "offscreen"
    assert screen["data"]["severity"] == "ENFERMEDAD_AGUDA" and screen["data"]["png_bytes"] > 10_000
    assert screen["data"]["qt_catalog"] is True


@pytest.mark.slow
def test_a_bundle_signed_with_another_key_fails_and_exits_1(tmp_path: Path, monkeypatch, capsys):
    _private, public = generate_key_pair()
    (tmp_path / "other.pem").write_bytes(public)
    monkeypatch.setenv("VEREDA_PUBLIC_KEY", str(tmp_path / "other.pem"))
    assert selftest.main("es", as_json=False) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Vereda ") and "autoprueba (código fuente)" in out[0]
    assert out[1].startswith("[FALLA] Firma del paquete de modelos") and "signature does not match" in out[1]
    assert all(line.startswith(("[BIEN ]", "        ")) for line in out[2:-1]), out
    assert out[-1].startswith("Resultado: 1 de ") and "vereda.log" in out[-1]


def test_edited_manifest_fails_the_signature_but_files_still_match(bundle_dir: Path, tmp_path: Path):
    bundle = copy_bundle(bundle_dir, tmp_path / "bundle")
    manifest = bundle / "manifest.json"
    manifest.write_bytes(manifest.read_bytes() + b"\n")
    signature = selftest.check_signature(bundle, "en")
    assert not signature.ok and "signature does not match" in signature.message
    assert selftest.check_bundle_files(bundle, "en", []).ok


def test_changed_model_file_fails_the_files_check(bundle_dir: Path, tmp_path: Path):
    bundle = copy_bundle(bundle_dir, tmp_path / "bundle")
    model = bundle / "state.onnx"
    data = bytearray(model.read_bytes())
    data[-1] ^= 0xFF
    model.write_bytes(bytes(data))
    loaded: list[ModelBundle] = []
    result = selftest.check_bundle_files(bundle, "en", loaded)
    assert not result.ok and "state.onnx does not match the manifest" in result.message and not loaded
    assert selftest.check_signature(bundle, "en").ok  # the manifest itself is intact


def test_bundle_check_cases_run_when_the_signature_covers_them(bundle_dir: Path, tmp_path: Path):
    bundle = copy_bundle(bundle_dir, tmp_path / "bundle")
    add_checks(bundle, {"format": 1, "cases": [
        {"name": "chest pain", "request": CASE_4,
         "expect": {"severity_at_least": "ENFERMEDAD_AGUDA", "requires_immediate_attention": True,
                    "top_conditions_include": ["I21"]}},
        {"name": "origin 1", "request": {"age": 40, "sex": "F",
                                         "symptoms": {"fatiga": 2, "dolor_muscular": 1, "mareos": 1}},
         "expect": {"severity_at_least": "NO_ENFERMO"}},
    ]})
    assert selftest.check_signature(bundle, "en").ok
    engine = DiagnosisEngine.load(bundle)
    result = selftest.check_bundle_cases(engine, "en")
    assert result.ok and result.data == {"cases": 2}, result.message


def test_failing_bundle_case_is_named(bundle_dir: Path, tmp_path: Path):
    bundle = copy_bundle(bundle_dir, tmp_path / "bundle")
    add_checks(bundle, {"format": 1, "cases": [
        {"name": "wrong on purpose", "request": CASE_4,
         "expect": {"severity_at_least": "ENFERMEDAD_AGUDA", "top_conditions_include": ["A01.0"]}},
    ]})
    result = selftest.check_bundle_cases(DiagnosisEngine.load(bundle), "en")
    assert not result.ok and "wrong on purpose: A01.0 not in top conditions" in result.message


def test_malformed_check_cases_fail(bundle_dir: Path, tmp_path: Path):
    bundle = copy_bundle(bundle_dir, tmp_path / "bundle")
    add_checks(bundle, {"format": 1, "cases": [{"name": "no expectation", "request": CASE_4}]})
    result = selftest.check_bundle_cases(DiagnosisEngine.load(bundle), "en")
    assert not result.ok and "malformed" in result.message


def test_check_cases_outside_the_manifest_are_refused(bundle_dir: Path, tmp_path: Path):
    bundle = copy_bundle(bundle_dir, tmp_path / "bundle")
    add_checks(bundle, {"format": 1, "cases": [{"name": "x", "request": CASE_4,
                                                "expect": {"severity_at_least": "NO_ENFERMO"}}]},
               list_in_manifest=False)
    result = selftest.check_bundle_cases(DiagnosisEngine.load(bundle), "es")
    assert not result.ok and "no está en el manifiesto" in result.message


def test_store_check_leaves_nothing_behind(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    result = selftest.check_store("en")
    assert result.ok, result.message
    assert result.data["sqlcipher"].startswith("4.")
    assert list(tmp_path.iterdir()) == []


def test_every_report_text_is_in_both_languages_with_the_same_placeholders():
    def placeholders(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    for key, texts in selftest.TEXT.items():
        assert set(texts) == {"es", "en"}, key
        assert placeholders(texts["es"]) == placeholders(texts["en"]), key


def test_importing_the_self_test_loads_no_qt():
    code = "import sys, app.selftest; print(any(m.startswith(('PySide6', 'shiboken6')) for m in sys.modules))"
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "False"
