#!/usr/bin/env python3
"""Set up Vereda in a local virtual environment and start it or test it.

This is the whole quick start: `python3 dev.py start` and `python3 dev.py test`; `python3 dev.py package` builds the
packaged app for IT staff in dist/. It needs only Python 3.11+ (with its standard `venv` module) and access to PyPI.
It creates `.venv/` beside this file, installs the project and what the chosen command needs, and skips the install
when nothing changed since the last one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".vereda-setup-stamp"


def _venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _wanted_stamp(extras: str) -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update(extras.encode())
    return digest.hexdigest()


def setup(extras: str) -> Path:
    """Create the virtual environment and install the project with `extras`; return its python."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this script is what tells users of older Pythons
        sys.exit(f"Vereda needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    python = _venv_python()
    if not python.exists():
        print(f"Creating the virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    wanted = _wanted_stamp(extras)
    if STAMP.exists() and STAMP.read_text() == wanted:
        return python
    print(f"Installing Vereda and its dependencies ({extras}) ...", flush=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "-e", f".[{extras}]"], check=True, cwd=ROOT)
    STAMP.write_text(wanted)
    return python


# The X11 libraries Qt's desktop (xcb) plugin needs that desktop-less Debian and Ubuntu installs often lack, with the
# package that brings each. libxcb-cursor is opened at run time (Qt >= 6.5), so ldd cannot see it: checked by name.
QT_SYSTEM_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}
MISSING_TEXT = {
    "es": "Vereda necesita estas bibliotecas del sistema para abrir su ventana: {libraries}.\n"
          "Instálelas con este comando (una sola vez) y vuelva a ejecutar «python3 dev.py start»:\n\n    {command}\n",
    "en": "Vereda needs these system libraries to open its window: {libraries}.\n"
          "Install them with this command (once) and run 'python3 dev.py start' again:\n\n    {command}\n",
}


def user_language() -> str:
    """Vereda's language for this person: VEREDA_LANG, else English only when the system speaks English."""
    for name in ("VEREDA_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "").lower()
        if value:
            return "en" if value.startswith("en") else "es"
    return "es"


def parse_ldd(text: str) -> set[str]:
    """The libraries `ldd` reports as "not found"."""
    return {line.split("=>")[0].strip() for line in text.splitlines() if "=> not found" in line}


def unresolved_libraries(binaries: list[Path]) -> list[str]:
    """The shared libraries that the dynamic loader cannot find for `binaries` (as `ldd` reports them)."""
    missing: set[str] = set()
    for binary in binaries:
        if binary.exists():
            missing |= parse_ldd(subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout)
    return sorted(missing)


def missing_qt_libraries(python: Path) -> list[str]:
    """System libraries the Qt desktop plugin cannot find on this Linux machine (empty elsewhere)."""
    if not sys.platform.startswith("linux") or shutil.which("ldd") is None:
        return []
    found = subprocess.run([python, "-c", "import PySide6, os; print(os.path.dirname(PySide6.__file__))"],
                           capture_output=True, text=True)
    qt = Path(found.stdout.strip()) / "Qt"
    binaries = [qt / "plugins" / "platforms" / "libqxcb.so", *sorted((qt / "lib").glob("libQt6XcbQpa.so*"))[:1]]
    missing = set(unresolved_libraries(binaries))
    known = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout if shutil.which("ldconfig") \
        else ""
    if known and "libxcb-cursor.so.0" not in known:
        missing.add("libxcb-cursor.so.0")
    return sorted(missing)


def missing_libraries_message(missing: list[str], lang: str) -> str:
    packages = sorted({QT_SYSTEM_LIBRARIES.get(name, name) for name in missing})
    command = ("sudo apt-get install -y " + " ".join(packages)) if shutil.which("apt-get") else \
        ("(" + ", ".join(packages) + ")")
    return MISSING_TEXT[lang].format(libraries=", ".join(missing), command=command)


def wants_desktop_window() -> bool:
    """Whether Qt will use its X11 plugin: not when told to draw offscreen or on another platform."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    return platform in ("", "xcb") and not (platform == "" and os.environ.get("WAYLAND_DISPLAY"))


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "start"
    rest = argv[1:]
    if command == "start":
        python = setup("dev")
        # Qt's own message for a missing X11 library is English and names no package; say it in the user's
        # language, with the one command that fixes it, before anything starts.
        words = [a for a in rest if not a.startswith("-")]
        if (not words or words[0] == "gui") and wants_desktop_window():
            missing = missing_qt_libraries(python)
            if missing:
                print(missing_libraries_message(missing, user_language()), file=sys.stderr)
                return 1
        return subprocess.run([python, "-m", "app.cli", *rest], cwd=ROOT).returncode
    if command == "check-desktop":
        # What `start` checks, alone: exit 1 and the message when a system library is missing.
        missing = missing_qt_libraries(setup("dev"))
        if missing:
            print(missing_libraries_message(missing, user_language()), file=sys.stderr)
        return 1 if missing else 0
    if command == "test":
        python = setup("dev")
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        lint = subprocess.run([python, "-m", "ruff", "check", "."], cwd=ROOT, env=env)
        if lint.returncode != 0:
            return lint.returncode
        # Types next ([tool.mypy] in pyproject.toml: strict on app/core, app/sync and the server's API).
        types = subprocess.run([python, "-m", "mypy"], cwd=ROOT, env=env)
        if types.returncode != 0:
            return types.returncode
        return subprocess.run([python, "-m", "pytest", *rest], cwd=ROOT, env=env).returncode
    if command == "package":
        # The packaged app for IT staff: dist/vereda/ and its archive (installer/build.py). The dev extras include
        # the `package` one, so this reuses the environment the tests ran in.
        python = setup("dev")
        return subprocess.run([python, str(ROOT / "installer" / "build.py"), *rest], cwd=ROOT).returncode
    if command == "setup":
        setup("dev")
        return 0
    print("usage: python3 dev.py [start|test|package|setup|check-desktop] [arguments...]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
