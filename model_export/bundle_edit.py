"""Change one part of an existing bundle in place, then re-pin its manifest and sign it again (no retraining).

Used when a part that does not depend on the models is rebuilt: the rare-disease index
(`python -m model_export.rare_index --bundle B`) and the findings' distributions (`python -m model_export findings`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEV_PRIVATE_KEY = ROOT / "tests" / "fixtures" / "keys" / "dev-private.pem"


def rewrite_bundle(bundle: Path, key: Path | None, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Load the bundle (refused if its files do not match its manifest), let `change` rewrite files in the folder
    and edit the manifest, re-pin every file, check that the app loads it, and sign it with `key` (default: the
    development key). Returns the new manifest's version and the key's fingerprint."""
    from app.core.bundle import ModelBundle
    from app.core.engine import DiagnosisEngine
    from app.core.signing import is_development_key, key_fingerprint, load_private_key, sign_bundle, verify_bundle
    from model_export.export import write_manifest

    base = ModelBundle.load(bundle)
    private = load_private_key(key or DEV_PRIVATE_KEY)  # before writing anything: a bad key changes nothing
    manifest = dict(base.manifest)
    manifest.pop("files", None)
    change(manifest)
    write_manifest(bundle, manifest)  # re-pins every file and removes the old signature
    DiagnosisEngine.load(bundle)
    sign_bundle(bundle, private)
    verify_bundle(bundle, private.public_key())
    return {"bundle": str(bundle), "version": manifest["version"], "key": key_fingerprint(private.public_key()),
            "development_key": is_development_key(private.public_key())}
