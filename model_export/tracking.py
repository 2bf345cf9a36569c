"""Optional experiment tracking: log a run's parameters, metrics and artefacts to MLflow when `import mlflow` works.

MLflow is not a dependency (it is large, and the build must work on a laptop without it). Without it, or when
logging fails, nothing happens beyond one log line: tracking must never break a build. The store is
MLFLOW_TRACKING_URI when set, else a local file store in `mlruns/` at the repository root (gitignored).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = "vereda"


def log_run(name: str, params: dict[str, Any], metrics: dict[str, float], artefacts: Iterable[Path] = ()) -> bool:
    """Log one run; returns True when it was logged."""
    try:
        import mlflow
    except ImportError:
        log.info("mlflow not installed: run %s not tracked", name)
        return False
    try:
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            mlflow.set_tracking_uri((ROOT / "mlruns").as_uri())
        mlflow.set_experiment(EXPERIMENT)
        with mlflow.start_run(run_name=name):
            mlflow.log_params({k: str(v)[:250] for k, v in params.items()})
            mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None})
            for path in artefacts:
                if Path(path).is_file():
                    mlflow.log_artifact(str(path))
    except Exception as exc:  # tracking is a convenience; a broken store must not fail the build
        log.warning("mlflow logging failed for %s: %s", name, exc)
        return False
    return True
