"""The shipped bundle matches its manifest, and a tampered or incomplete bundle is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.core.bundle import BundleError, ModelBundle, sha256_file
from app.core.engine import DiagnosisEngine
from app.core.explain import NotAdditiveError


def test_manifest_matches_files(bundle_dir: Path):
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    files = {p.name for p in bundle_dir.iterdir() if p.is_file() and p.name not in ("manifest.json", "manifest.sig")}
    assert set(manifest["files"]) == files
    for name, digest in manifest["files"].items():
        assert sha256_file(bundle_dir / name) == digest
    for key in ("version", "created", "expires", "features", "models", "thresholds", "metrics", "data", "parity"):
        assert key in manifest
    assert manifest["data"]["knowledge_sha256"]
    assert all(d <= 1e-5 for d in manifest["parity"]["max_abs_diff"].values())


def test_shipped_bundle_is_signed_with_the_pinned_key(bundle_dir: Path):
    from app.core.signing import load_public_key, pinned_public_key_path, verify_bundle

    verify_bundle(bundle_dir, load_public_key(pinned_public_key_path()))


def test_shipped_bundle_was_built_from_the_current_knowledge_base(bundle_dir: Path):
    from model_export import knowledge

    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    assert manifest["data"]["knowledge_sha256"] == knowledge.load().sha256, "rebuild: python -m model_export build"


def copy(bundle_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(bundle_dir, target)
    return target


def test_tampered_model_is_refused(bundle_dir: Path, tmp_path: Path):
    b = copy(bundle_dir, tmp_path)
    data = bytearray((b / "condition.onnx").read_bytes())
    data[-10] ^= 0xFF
    (b / "condition.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"condition\.onnx does not match"):
        ModelBundle.load(b)


def test_missing_file_is_refused(bundle_dir: Path, tmp_path: Path):
    b = copy(bundle_dir, tmp_path)
    (b / "state.onnx").unlink()
    with pytest.raises(BundleError, match=r"state\.onnx is missing"):
        ModelBundle.load(b)


def test_no_bundle_is_a_clear_error(tmp_path: Path):
    with pytest.raises(BundleError, match=r"manifest\.json is missing"):
        ModelBundle.load(tmp_path)


def test_a_model_that_is_not_additive_cannot_be_explained_and_is_refused(bundle_dir: Path, tmp_path: Path):
    """Swap in a random forest (re-pinned in the manifest): the engine refuses rather than explain it wrongly."""
    import numpy as np
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.ensemble import RandomForestClassifier

    from model_export.export import write_manifest

    b = copy(bundle_dir, tmp_path)
    bundle = ModelBundle.load(b)
    n = bundle.features.n_expanded
    rng = np.random.default_rng(0)
    x = (rng.random((400, n)) < 0.2).astype(np.float32)
    y = rng.integers(0, 5, 400)
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
    onx = convert_sklearn(forest, initial_types=[("features", FloatTensorType([None, n]))],
                          options={id(forest): {"zipmap": False}})
    (b / "state.onnx").write_bytes(onx.SerializeToString())
    manifest = dict(bundle.manifest)
    manifest.pop("files")
    write_manifest(b, manifest)
    with pytest.raises(NotAdditiveError):
        DiagnosisEngine.load(b)
