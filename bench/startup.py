"""Benchmark: process start to login window, and login (unlock) to the patient list, medians of several runs.

    QT_QPA_PLATFORM=offscreen python bench/startup.py [--runs 7]        # or under Xvfb with DISPLAY set

Budgets (issue 4): start to login window <= 2 s; login to patient list <= 1 s, on this machine. The unlock uses
the store's real key derivation (scrypt N=2^17), which is most of the second.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PASSPHRASE = "la doctora de la vereda"


def start_to_login(data_dir: Path, runs: int) -> list[float]:
    times = []
    env = dict(os.environ, VEREDA_QUIT_WHEN_SHOWN="login", VEREDA_CONFIG_DIR=str(data_dir.parent / "config"))
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    for _ in range(runs):
        start = time.time()
        out = subprocess.run([sys.executable, "-m", "app.cli", "gui", "--data-dir", str(data_dir)],
                             capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("vereda: login window shown")), None)
        if line is None:
            raise SystemExit(f"the app did not report its login window:\n{out.stdout}\n{out.stderr}")
        times.append(float(line.rsplit(" ", 1)[1]) - start)
    return times


def login_to_patients(data_dir: Path, runs: int) -> list[float]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app.core.engine import DiagnosisEngine
    from app.preferences import Preferences
    from app.ui.app import VeredaApp
    from app.ui.qt import QApplication

    app = QApplication.instance() or QApplication([])
    engine = DiagnosisEngine.load()
    times = []
    for _ in range(runs):
        vereda = VeredaApp(data_dir, engine, Preferences())
        vereda.start()
        vereda.login.login.setText("ana")
        vereda.login.passphrase.setText(PASSPHRASE)
        start = time.perf_counter()
        vereda.login.submit()
        while not (vereda.main.isVisible() and vereda.tasks.in_flight == 0):
            app.processEvents()
            time.sleep(0.002)
        times.append(time.perf_counter() - start)
        vereda.quit()
        while vereda.tasks.in_flight:
            app.processEvents()
            time.sleep(0.002)
        vereda.tasks.shutdown()
        vereda.main.deleteLater()
        vereda.login.deleteLater()
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from app.store.store import ClinicStore

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "clinic"
        store, _ = ClinicStore.create(data_dir, clinic_name="Puesto", municipality="Pueblo", admin_login="admin",
                                      admin_name="Admin", admin_passphrase=PASSPHRASE)
        store.add_user("ana", "Dra. Ana", "doctor", PASSPHRASE, must_change_passphrase=False)
        store.lock()
        cold = start_to_login(data_dir, args.runs)
        warm = login_to_patients(data_dir, args.runs)
    platform = os.environ.get("QT_QPA_PLATFORM", "xcb")
    print(f"platform: {platform}, runs: {args.runs}")
    print(f"process start -> login window shown: median {statistics.median(cold):.2f} s "
          f"(min {min(cold):.2f}, max {max(cold):.2f}); budget 2 s -> "
          f"{'OK' if statistics.median(cold) <= 2 else 'OVER'}")
    print(f"login (unlock, real scrypt) -> patient list shown: median {statistics.median(warm):.2f} s "
          f"(min {min(warm):.2f}, max {max(warm):.2f}); budget 1 s -> "
          f"{'OK' if statistics.median(warm) <= 1 else 'OVER'}")


if __name__ == "__main__":
    main()
