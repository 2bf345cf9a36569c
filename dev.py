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


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "start"
    rest = argv[1:]
    if command == "start":
        python = setup("dev")
        return subprocess.run([python, "-m", "app.cli", *rest], cwd=ROOT).returncode
    if command == "test":
        python = setup("dev")
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        lint = subprocess.run([python, "-m", "ruff", "check", "."], cwd=ROOT, env=env)
        if lint.returncode != 0:
            return lint.returncode
        return subprocess.run([python, "-m", "pytest", *rest], cwd=ROOT, env=env).returncode
    if command == "package":
        # The packaged app for IT staff: dist/vereda/ and its archive (installer/build.py). The dev extras include
        # the `package` one, so this reuses the environment the tests ran in.
        python = setup("dev")
        return subprocess.run([python, str(ROOT / "installer" / "build.py"), *rest], cwd=ROOT).returncode
    if command == "setup":
        setup("dev")
        return 0
    print("usage: python3 dev.py [start|test|package|setup] [arguments...]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
