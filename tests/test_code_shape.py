"""Two shape rules of the code base (issue 17), next to the layering rules of tests/test_layering.py:

- one logger-naming rule: a module logs through `logging.getLogger(__name__)` (or a named child of it,
  `__name__ + ".access"`), so a logger's name is the module's dotted path and a level set on `server` or
  `app.sync` reaches every module under it. Only the two log-configuration modules touch the root logger or
  third-party loggers (uvicorn, alembic) by name;
- no module in app/ or server/ is longer than 600 lines, except message catalogs and migrations;
- a `# type: ignore[code]` left in the code says why, after it on its line or in a comment on the line above
  (mypy, run by `python3 dev.py test`, already refuses one without a code or one that silences nothing).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOG_CONFIGURATION = {"app/logs.py", "server/core/logs.py"}
MAX_LINES = 600
# Message catalogs (every user-facing text in Spanish and English, one entry per message): long by nature, and
# split by topic would scatter one language's wording across files. Migrations are excluded by folder.
CATALOGS = {"app/core/messages.py", "app/store/messages.py", "app/sync/messages.py", "app/interop/messages.py",
            "app/ui/i18n.py", "server/web/catalog.py"}


def _is_module_name(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "__name__"


def logger_name_problems(path: Path, relative: str) -> list[str]:
    bad = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "getLogger"):
            continue
        arg = node.args[0] if node.args else None
        if arg is not None and (_is_module_name(arg) or (
                isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Add) and _is_module_name(arg.left)
                and isinstance(arg.right, ast.Constant) and str(arg.right.value).startswith("."))):
            continue
        if relative in LOG_CONFIGURATION and not (
                isinstance(arg, ast.Constant) and str(arg.value).split(".")[0] in ("app", "server", "model_export",
                                                                                  "vereda")):
            continue  # the root logger, or a third party's logger, configured where logging is configured
        bad.append(f"{relative}:{node.lineno}: getLogger({ast.unparse(arg) if arg is not None else ''})")
    return bad


def python_files(*packages: str) -> list[tuple[Path, str]]:
    return [(p, p.relative_to(ROOT).as_posix()) for pkg in packages for p in sorted((ROOT / pkg).rglob("*.py"))]


def test_every_logger_is_named_after_its_module() -> None:
    bad = [msg for path, rel in python_files("app", "server", "model_export")
           for msg in logger_name_problems(path, rel)]
    assert bad == []


def test_the_logger_rule_catches_a_hand_written_name(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('import logging\nlog = logging.getLogger("vereda.sync")\nok = logging.getLogger(__name__)\n'
                      'child = logging.getLogger(__name__ + ".access")\nroot = logging.getLogger()\n',
                      encoding="utf-8")
    assert logger_name_problems(sample, "app/sync/sample.py") == [
        "app/sync/sample.py:2: getLogger('vereda.sync')", "app/sync/sample.py:5: getLogger()"]
    assert logger_name_problems(sample, "server/core/logs.py") == ["server/core/logs.py:2: getLogger('vereda.sync')"]


def long_modules() -> list[str]:
    out = []
    for path, rel in python_files("app", "server"):
        if rel in CATALOGS or "/migrations/" in rel:
            continue
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            out.append(f"{rel}: {lines} lines")
    return out


def test_no_module_in_app_or_server_is_over_600_lines() -> None:
    assert long_modules() == []


def test_the_catalog_allow_list_names_real_files() -> None:
    assert [c for c in CATALOGS if not (ROOT / c).is_file()] == []


IGNORE = re.compile(r"#\s*type:\s*ignore(\[[\w,\s-]+\])?(?P<after>.*)$")


def unexplained_ignores(text: str, relative: str) -> list[str]:
    bad = []
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        found = IGNORE.search(line)
        if found is None:
            continue
        reason_after = found.group("after").strip().lstrip("#").strip()
        reason_above = number > 1 and lines[number - 2].strip().startswith("#")
        if found.group(1) is None or not (reason_after or reason_above):
            bad.append(f"{relative}:{number}: {line.strip()}")
    return bad


def test_every_type_ignore_has_a_code_and_a_reason() -> None:
    bad = [msg for path, rel in python_files("app", "server", "model_export")
           for msg in unexplained_ignores(path.read_text(encoding="utf-8"), rel)]
    assert bad == []


def test_the_ignore_rule_catches_a_bare_ignore() -> None:
    text = ("x = f()  # type: ignore[attr-defined]\n"
            "y = g()  # type: ignore\n"
            "# a reason on the line above\n"
            "z = h()  # type: ignore[index]\n"
            "w = k()  # type: ignore[index]  # because k's stub is wrong\n")
    assert unexplained_ignores(text, "m.py") == ["m.py:1: x = f()  # type: ignore[attr-defined]",
                                                 "m.py:2: y = g()  # type: ignore"]
