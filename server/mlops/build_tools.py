"""The build tools (`python -m model_export`) as a child process: the gate's evaluation and the drift reference.

Why a process and not an import: the central service installs `vereda[server]`, not the training stack
(scikit-learn, the simulator, the knowledge base), and its code never imports `model_export`. An administrator
who promotes or checks drift runs these commands where the build tools are installed (`vereda[build]`); when they
are not, the command fails with one message saying so. Inputs and figures cross as JSON files.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


class BuildToolsError(RuntimeError):
    """The build tools are missing or failed; the message says which and what to install."""


def run(command: list[str], inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run `python -m model_export COMMAND ... --json-out FILE` (plus `--feedback FILE` when `inputs` has
    feedback) and return the JSON it wrote."""
    with tempfile.TemporaryDirectory(prefix="vereda-mlops-") as tmp:
        out = Path(tmp) / "out.json"
        args = [sys.executable, "-m", "model_export", *command, "--json-out", str(out)]
        if inputs is not None and "feedback" in inputs:
            feedback = Path(tmp) / "feedback.jsonl"
            feedback.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in inputs["feedback"]),
                                encoding="utf-8")
            args += ["--feedback", str(feedback)]
        done = subprocess.run(args, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            if "No module named" in done.stderr:
                raise BuildToolsError("this command needs the build tools (pip install 'vereda[build]'): "
                                      + done.stderr.strip().splitlines()[-1])
            raise BuildToolsError(f"python -m model_export {command[0]} failed (exit {done.returncode}): "
                                  + done.stderr.strip()[-2000:])
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return result


def gate_evaluation(candidate: Path, production: Path | None, feedback: list[dict[str, Any]],
                    n_simulated: int) -> dict[str, Any]:
    """{"candidate": figures, "production": figures or None} of `model_export.mlops.evaluate_engine`."""
    command = ["gate-evaluate", str(candidate), "--n-simulated", str(n_simulated)]
    if production is not None:
        command += ["--production", str(production)]
    return run(command, {"feedback": feedback})


def drift_reference(bundle: Path, n: int | None) -> dict[str, Any]:
    """The simulated reference population answered by `bundle` (`model_export.mlops.drift_reference`)."""
    return run(["drift-reference", str(bundle), *(["--n", str(n)] if n else [])])
