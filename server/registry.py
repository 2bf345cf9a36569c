"""The model registry's file side: checking a bundle before it is published, packing it, and unpacking it again.

A published bundle becomes one archive (`tar.gz`), built once at publish time so every download is the same bytes
with the same sha256 and size, which is what makes resuming a cut download safe. The archive is deterministic (sorted
names, zero timestamps and owners) and flat: `manifest.json`, `manifest.sig` and the files the manifest pins, nothing
else. The service stores and serves it; it never signs anything.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from app.core.bundle import MANIFEST, BundleError, ModelBundle
from app.core.signing import SIGNATURE, SignatureError, key_fingerprint, load_public_key, verify_bundle

ARCHIVE_FORMAT = "tar.gz"
ARCHIVE_MEDIA_TYPE = "application/gzip"
CHUNK_BYTES = 1 << 20


class RegistryError(RuntimeError):
    """A bundle or stage change the registry refuses. The message says why, for the person running the command."""


@dataclass(frozen=True)
class PreparedBundle:
    """A checked bundle, packed and ready for the database."""

    version: str
    manifest: dict[str, Any]
    manifest_sha256: str
    signature: str | None
    signed_by: str | None
    archive: bytes
    archive_sha256: str

    @property
    def archive_size(self) -> int:
        return len(self.archive)

    def chunks(self) -> Iterable[bytes]:
        for start in range(0, len(self.archive), CHUNK_BYTES):
            yield self.archive[start : start + CHUNK_BYTES]


def _member_names(bundle_dir: Path, manifest: dict[str, Any]) -> list[str]:
    names = [MANIFEST]
    if (bundle_dir / SIGNATURE).is_file():
        names.append(SIGNATURE)
    for name in manifest["files"]:
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts or name in (MANIFEST, SIGNATURE):
            raise RegistryError(f"the manifest names a file the registry will not pack: {name!r}")
        names.append(name)
    return sorted(names)


def build_archive(bundle_dir: Path, names: list[str]) -> bytes:
    """A byte-for-byte reproducible tar.gz of `names` under `bundle_dir`."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in names:
            data = (bundle_dir / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)


def prepare(
    bundle_dir: Path, *, public_key: Path | None = None, allow_unsigned: bool = False, today: dt.date | None = None
) -> PreparedBundle:
    """Check a bundle folder as a clinic would, then pack it. Raises RegistryError with the reason."""
    bundle_dir = Path(bundle_dir)
    try:
        bundle = ModelBundle.load(bundle_dir)  # files match the manifest, format known
    except BundleError as exc:
        raise RegistryError(str(exc)) from exc
    except (KeyError, ValueError) as exc:
        raise RegistryError(f"bundle {bundle_dir}: manifest is incomplete ({exc})") from exc
    if bundle.expired(today):
        raise RegistryError(f"bundle {bundle.version} expired on {bundle.expires}; clinics would refuse it")
    signature: str | None = None
    signed_by: str | None = None
    if (bundle_dir / SIGNATURE).is_file():
        signature = (bundle_dir / SIGNATURE).read_text(encoding="ascii").strip()
        if public_key is not None:
            key = load_public_key(public_key)
            try:
                verify_bundle(bundle_dir, key)
            except SignatureError as exc:
                raise RegistryError(str(exc)) from exc
            signed_by = key_fingerprint(key)
    elif not allow_unsigned:
        raise RegistryError(
            f"bundle {bundle.version} is not signed ({SIGNATURE} is missing): sign it offline with "
            "`python -m model_export.sign BUNDLE --key PRIVATE_KEY`; clinics refuse unsigned bundles"
        )
    manifest_bytes = (bundle_dir / MANIFEST).read_bytes()
    archive = build_archive(bundle_dir, _member_names(bundle_dir, bundle.manifest))
    return PreparedBundle(
        version=bundle.version,
        manifest=json.loads(manifest_bytes),
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
        signature=signature,
        signed_by=signed_by,
        archive=archive,
        archive_sha256=hashlib.sha256(archive).hexdigest(),
    )


def unpack(chunks: Iterable[bytes], expected_sha256: str, cache_dir: Path, version: str) -> Path:
    """Unpack an archive into `cache_dir/<version>-<sha>` (once; later calls reuse it) and return the folder.

    Several workers may do this at the same moment: each unpacks into its own temporary folder and renames it into
    place, and the loser of the race throws its copy away.
    """
    target = cache_dir / f"{version}-{expected_sha256[:16]}"
    if (target / MANIFEST).is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".unpack-", dir=cache_dir))
    try:
        digest = hashlib.sha256()
        archive_path = work / "bundle.tar.gz"
        with archive_path.open("wb") as fh:
            for chunk in chunks:
                digest.update(chunk)
                fh.write(chunk)
        if digest.hexdigest() != expected_sha256:
            raise RegistryError(f"stored archive of {version} does not match its sha256; re-publish it")
        folder = work / "bundle"
        with tarfile.open(archive_path, "r:gz") as tar:
            tar.extractall(folder, filter="data")  # no absolute paths, links or device files
        try:
            os.rename(folder, target)
        except OSError:
            if not (target / MANIFEST).is_file():
                raise
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)
