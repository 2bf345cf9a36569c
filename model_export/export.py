"""Write a model bundle: ONNX models (skl2onnx), the vocabulary, check cases and a manifest pinning every file.

Files are written to a temporary folder beside the target and swapped in at the end, so an interrupted build never
leaves a half-written bundle where the app would load it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.linear_model import LogisticRegression

from app.core.bundle import FORMAT, MANIFEST, sha256_file
from app.core.features import FeatureSchema
from app.core.probability import softmax
from app.core.signing import SIGNATURE
from app.core.vocabulary import Vocabulary

INPUT_NAME = "features"
OUTPUT_NAME = "probabilities"  # skl2onnx's name; with raw_scores it holds the class scores
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}  # runs on onnxruntime >= 1.14, so older clinic installs can take updates
PARITY_TOLERANCE = 1e-5
VALID_DAYS = 365


class ParityError(AssertionError):
    pass


def to_onnx(model: LogisticRegression, n_features: int) -> bytes:
    onx = convert_sklearn(
        model,
        initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
        options={id(model): {"raw_scores": True, "zipmap": False}},
        target_opset=TARGET_OPSET,
    )
    return onx.SerializeToString()


def onnx_probabilities(onnx_bytes: bytes, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    (scores,) = session.run([OUTPUT_NAME], {INPUT_NAME: x.astype(np.float32)})
    return softmax(scores.astype(np.float64))


def parity(model: LogisticRegression, onnx_bytes: bytes, x: np.ndarray) -> float:
    """Max absolute difference between scikit-learn's and onnxruntime's probabilities on rows `x`."""
    return float(np.max(np.abs(model.predict_proba(x) - onnx_probabilities(onnx_bytes, x))))


def write_bundle(
    out: Path,
    version: str,
    schema: FeatureSchema,
    vocabulary: Vocabulary,
    models: dict[str, tuple[LogisticRegression, tuple[str, ...]]],
    background: np.ndarray,
    parity_rows: np.ndarray,
    thresholds: dict[str, float],
    info: dict[str, Any],
    created: dt.date | None = None,
    extras: Callable[[Path], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Export `models` (name -> (fitted model, class names)) into a bundle at `out`; return the manifest.

    `extras(folder)` may write more files into the bundle being assembled and returns manifest entries for them
    (the rare-disease index: {"rare": {...}}); they are pinned by sha256 like every other file.

    Raises ParityError when onnxruntime and scikit-learn disagree on `parity_rows` by more than 1e-5.
    """
    created = created or dt.date.today()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".bundle-", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a bundle is read by every user of the laptop
    try:
        manifest_models: dict[str, Any] = {}
        parity_report: dict[str, float] = {}
        for name, (model, classes) in models.items():
            onnx_bytes = to_onnx(model, schema.n_expanded)
            diff = parity(model, onnx_bytes, parity_rows)
            parity_report[name] = diff
            if diff > PARITY_TOLERANCE:
                raise ParityError(f"{name}: onnxruntime differs from scikit-learn by {diff:.3g} > {PARITY_TOLERANCE}")
            (staging / f"{name}.onnx").write_bytes(onnx_bytes)
            manifest_models[name] = {
                "file": f"{name}.onnx",
                "kind": "additive_logistic",
                "classes": list(classes),
                "input": INPUT_NAME,
                "output": OUTPUT_NAME,
                "background_mean": [float(v) for v in background.mean(axis=0)],
            }
        (staging / "knowledge.json").write_text(
            json.dumps(vocabulary.to_json(), ensure_ascii=False, indent=1), encoding="utf-8"
        )
        manifest = {
            "format": FORMAT,
            "version": version,
            "created": created.isoformat(),
            "expires": (created + dt.timedelta(days=VALID_DAYS)).isoformat(),
            "knowledge": "knowledge.json",
            "features": schema.to_json(),
            "models": manifest_models,
            "thresholds": thresholds,
            "parity": {"rows": int(parity_rows.shape[0]), "max_abs_diff": parity_report,
                       "tolerance": PARITY_TOLERANCE},
            **info,
        }
        if extras is not None:
            manifest.update(extras(staging))
        write_manifest(staging, manifest)
        if out.exists():
            old = out.with_name(out.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            staging.rename(out)
            shutil.rmtree(old)
        else:
            staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def write_manifest(bundle: Path, manifest: dict[str, Any]) -> None:
    """(Re)write the manifest with the sha256 of every other file in the bundle, atomically.

    A signature of the previous manifest no longer holds and is removed: sign again (`python -m model_export sign`).
    """
    manifest = dict(manifest)
    (bundle / SIGNATURE).unlink(missing_ok=True)
    manifest["files"] = {
        p.name: sha256_file(p) for p in sorted(bundle.iterdir())
        if p.is_file() and p.name not in (MANIFEST, SIGNATURE) and not p.name.startswith(".")
    }
    text = json.dumps(manifest, ensure_ascii=False, indent=1) + "\n"
    fd, tmp = tempfile.mkstemp(dir=bundle, prefix=".manifest-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, bundle / MANIFEST)
