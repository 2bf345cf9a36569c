"""Fixtures for the exports: a demo clinic made by the real `vereda demo` command (once per session), and the
`vereda` command run as a child process, the way IT staff run it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def vereda(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


@dataclass(frozen=True)
class DemoClinic:
    data_dir: Path
    passphrase_file: Path
    encounters: int

    def export(self, *args: str, lang: str = "es") -> subprocess.CompletedProcess[str]:
        kind, *rest = args
        return vereda("--lang", lang, "export", kind, "--data-dir", str(self.data_dir), "--passphrase-file",
                      str(self.passphrase_file), *rest)

    def export_ok(self, *args: str) -> dict:
        p = self.export(*args)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)


@pytest.fixture(scope="session")
def demo_clinic(tmp_path_factory: pytest.TempPathFactory) -> DemoClinic:
    """100 synthetic patients with 1-3 closed encounters each (214 with this seed), diagnosed by the real engine."""
    folder = tmp_path_factory.mktemp("demo")
    p = vereda("demo", "--data-dir", str(folder / "clinic"), "--patients", "100", "--seed", "15")
    assert p.returncode == 0, p.stderr
    passphrase = re.search(r"Usuario: admin\s+Contraseña: (\S+)", p.stdout)
    count = re.search(r"(\d+) consultas cerradas", p.stdout)
    assert passphrase and count, p.stdout
    (folder / "pass").write_text(passphrase.group(1))
    return DemoClinic(folder / "clinic", folder / "pass", int(count.group(1)))
