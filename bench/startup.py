"""Benchmark: process start to login window, and login (unlock) to the patient list, medians of several runs.

    QT_QPA_PLATFORM=offscreen python bench/startup.py [--runs 7]        # or under Xvfb with DISPLAY set
    xvfb-run -a .venv/bin/python bench/startup.py --exe dist/vereda/vereda --runs 5   # the packaged app

Budgets (issue 4): start to login window <= 2 s; login to patient list <= 1 s, on this machine. The unlock uses
the store's real key derivation (scrypt N=2^17), which is most of the second. With `--exe` it times the packaged
program instead (issue 7: <= 3 s), started as on a clinic laptop: no virtual environment, no PYTHONPATH, a bare PATH;
the login-to-patients figure is then skipped (it measures the source tree, not the package).

The Qt platform is QT_QPA_PLATFORM if set, else the display's (DISPLAY or WAYLAND_DISPLAY), else offscreen.
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


EXE_BUDGET_S = 3.0


def qt_platform() -> str:
    has_display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    return os.environ.get("QT_QPA_PLATFORM") or ("" if has_display else "offscreen")


def start_to_login(data_dir: Path, runs: int, exe: Path | None = None) -> list[float]:
    times = []
    env = dict(os.environ, VEREDA_QUIT_WHEN_SHOWN="login", VEREDA_CONFIG_DIR=str(data_dir.parent / "config"))
    if qt_platform():
        env["QT_QPA_PLATFORM"] = qt_platform()
    command = [sys.executable, "-m", "app.cli"]
    cwd = ROOT
    if exe is not None:
        # As a clinic laptop starts it: nothing of this checkout or its virtual environment in sight.
        for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
            env.pop(name, None)
        env["PATH"] = "/usr/bin:/bin"
        command, cwd = [str(exe.resolve())], data_dir.parent
    for _ in range(runs):
        start = time.time()
        out = subprocess.run([*command, "gui", "--data-dir", str(data_dir)],
                             capture_output=True, text=True, env=env, cwd=cwd, timeout=60)
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("vereda: login window shown")), None)
        if line is None:
            raise SystemExit(f"the app did not report its login window:\n{out.stdout}\n{out.stderr}")
        times.append(float(line.rsplit(" ", 1)[1]) - start)
    return times


def login_to_patients(data_dir: Path, runs: int) -> list[float]:
    if qt_platform():
        os.environ["QT_QPA_PLATFORM"] = qt_platform()
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
    parser.add_argument("--exe", type=Path, help="time this packaged program (dist/vereda/vereda) instead")
    args = parser.parse_args()
    from app.store.store import ClinicStore

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "clinic"
        store, _ = ClinicStore.create(data_dir, clinic_name="Puesto", municipality="Pueblo", admin_login="admin",
                                      admin_name="Admin", admin_passphrase=PASSPHRASE)
        store.users.add("ana", "Dra. Ana", "doctor", PASSPHRASE, must_change_passphrase=False)
        store.lock()
        cold = start_to_login(data_dir, args.runs, args.exe)
        warm = login_to_patients(data_dir, args.runs) if args.exe is None else []
    platform = qt_platform() or "the display's"
    print(f"platform: {platform}, runs: {args.runs}")
    if args.exe is not None:
        median = statistics.median(cold)
        print(f"packaged {args.exe}: process start -> login window shown: median {median:.2f} s "
              f"(runs: {', '.join(f'{t:.2f}' for t in cold)}); budget {EXE_BUDGET_S:.0f} s -> "
              f"{'OK' if median <= EXE_BUDGET_S else 'OVER'}")
        return
    print(f"process start -> login window shown: median {statistics.median(cold):.2f} s "
          f"(min {min(cold):.2f}, max {max(cold):.2f}); budget 2 s -> "
          f"{'OK' if statistics.median(cold) <= 2 else 'OVER'}")
    print(f"login (unlock, real scrypt) -> patient list shown: median {statistics.median(warm):.2f} s "
          f"(min {min(warm):.2f}, max {max(warm):.2f}); budget 1 s -> "
          f"{'OK' if statistics.median(warm) <= 1 else 'OVER'}")


if __name__ == "__main__":
    main()
