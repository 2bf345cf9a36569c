"""dev.py, the quick start: before starting the desktop app it names missing system libraries and the one command
that installs them, in the user's language (Qt's own message is English and names no package)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_dev():
    spec = importlib.util.spec_from_file_location("vereda_dev", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("gcc") is None, reason="needs Linux, gcc")
def test_a_library_the_loader_cannot_find_is_named(tmp_path: Path) -> None:
    # A real shared object linked against a real library that is then removed: what a laptop without
    # libxcb-cursor0 looks like to the dynamic loader.
    dev = load_dev()
    (tmp_path / "gone.c").write_text("int gone(void) { return 1; }\n")
    (tmp_path / "plugin.c").write_text("int gone(void);\nint plugin(void) { return gone(); }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,-soname,libveredagone.so.0", "-o",
                    str(tmp_path / "libveredagone.so.0"), str(tmp_path / "gone.c")], check=True)
    (tmp_path / "libveredagone.so").symlink_to("libveredagone.so.0")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(tmp_path / "plugin.so"), str(tmp_path / "plugin.c"),
                    f"-L{tmp_path}", "-lveredagone"], check=True)
    (tmp_path / "libveredagone.so.0").unlink()
    assert dev.unresolved_libraries([tmp_path / "plugin.so"]) == ["libveredagone.so.0"]


def test_the_message_names_the_packages_in_the_users_language(monkeypatch: pytest.MonkeyPatch) -> None:
    dev = load_dev()
    missing = ["libxcb-cursor.so.0", "libxcb-icccm.so.4"]
    es = dev.missing_libraries_message(missing, "es")
    en = dev.missing_libraries_message(missing, "en")
    assert "Instálelas" in es and "Install them" in en
    for text in (es, en):
        assert "libxcb-cursor0" in text and "libxcb-icccm4" in text
    monkeypatch.setenv("VEREDA_LANG", "")
    monkeypatch.setenv("LC_ALL", "")
    monkeypatch.setenv("LC_MESSAGES", "")
    monkeypatch.setenv("LANG", "en_GB.UTF-8")
    assert dev.user_language() == "en"
    monkeypatch.setenv("LANG", "es_CO.UTF-8")
    assert dev.user_language() == "es"


def test_this_machines_qt_plugin_is_checked_for_real() -> None:
    dev = load_dev()
    python = dev._venv_python()
    if not python.exists():
        pytest.skip("no .venv here")
    missing = dev.missing_qt_libraries(python)
    qt_plugin = next((ROOT / ".venv").glob("lib/python3*/site-packages/PySide6/Qt/plugins/platforms/libqxcb.so"))
    ldd = subprocess.run(["ldd", str(qt_plugin)], capture_output=True, text=True).stdout
    assert set(dev.parse_ldd(ldd)) <= set(missing)
