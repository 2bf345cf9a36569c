"""Model bundles: a folder with ONNX models, the vocabulary and a manifest that pins every file by sha256.

A bundle is refused, with a reason a technician can act on, when a file is missing or differs from the manifest or
the manifest is of an unknown format. Expiry is checked when an update is accepted, not when the installed bundle is
loaded: a clinic that has been offline for a year must still be able to see patients, and is told the model is old.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.features import FeatureSchema
from app.core.vocabulary import Vocabulary

MANIFEST = "manifest.json"
FORMAT = 1


class BundleError(RuntimeError):
    """A model bundle that cannot be used. The message says which file and why."""


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Order versions like 2026.11.1 < 2026.11.10 < 2027.1.0 (numbers as numbers, other parts as text after them).

    One order for the clinic's update client and the central registry, so neither can call newer what the other
    calls older.
    """
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"[.\-+]", version))


def is_newer(candidate: str, current: str) -> bool:
    return version_key(candidate) > version_key(current)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def shipped_bundle_dir() -> Path:
    """Where the bundle that ships with this copy of Vereda lives (source tree or PyInstaller folder).

    `VEREDA_BUNDLE` overrides it, for tests and for IT staff checking a bundle before installing it.
    """
    override = os.environ.get("VEREDA_BUNDLE")
    if override:
        return Path(override)
    frozen_root = getattr(sys, "_MEIPASS", None)
    root = Path(frozen_root) if frozen_root else Path(__file__).resolve().parents[2]
    return root / "assets" / "models"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    file: str
    classes: tuple[str, ...]
    input_name: str
    output_name: str
    background_mean: tuple[float, ...]


@dataclass(frozen=True)
class ModelBundle:
    path: Path
    manifest: dict[str, Any]
    manifest_sha256: str
    features: FeatureSchema
    vocabulary: Vocabulary

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def thresholds(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.manifest["thresholds"].items()}

    @property
    def expires(self) -> dt.date:
        return dt.date.fromisoformat(self.manifest["expires"])

    def expired(self, today: dt.date | None = None) -> bool:
        return (today or dt.date.today()) > self.expires

    def model(self, name: str) -> ModelSpec:
        m = self.manifest["models"][name]
        return ModelSpec(name, m["file"], tuple(m["classes"]), m["input"], m["output"], tuple(m["background_mean"]))

    @classmethod
    def load(cls, path: Path | None = None) -> ModelBundle:
        path = Path(path) if path is not None else shipped_bundle_dir()
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            raise BundleError(f"no model bundle at {path}: {MANIFEST} is missing")
        raw = manifest_path.read_bytes()
        try:
            manifest = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise BundleError(f"{manifest_path} is not valid JSON ({exc})") from exc
        if manifest.get("format") != FORMAT:
            raise BundleError(f"{manifest_path}: unknown bundle format {manifest.get('format')!r}, expected {FORMAT}")
        for name, expected in manifest["files"].items():
            file = path / name
            if not file.is_file():
                raise BundleError(f"bundle {path}: {name} is missing")
            actual = sha256_file(file)
            if actual != expected:
                raise BundleError(f"bundle {path}: {name} does not match the manifest (sha256 {actual[:12]}…)")
        features = FeatureSchema.from_json(manifest["features"])
        vocabulary = Vocabulary.load(path / manifest["knowledge"])
        return cls(path, manifest, hashlib.sha256(raw).hexdigest(), features, vocabulary)
