"""The model registry's file side: checking a bundle before it is published, packing it, and unpacking it again.

A published bundle becomes one archive (`tar.gz`), built once at publish time so every download is the same bytes
with the same sha256 and size, which is what makes resuming a cut download safe. The archive is deterministic (sorted
names, zero timestamps and owners) and flat: `manifest.json`, `manifest.sig` and the files the manifest pins, nothing
else. The service stores and serves it; it never signs anything.

The registry trusts nothing it is given. A bundle is published only when its signature verifies with the one trusted
key (`Settings.bundle_public_key`: the operator's, else the key the clinics pin; there is no unsigned or unchecked
mode) and its version is of the bundle version format (`VERSION`), which also keeps a version from naming a path.
A bundle is loaded for predictions or the promotion gate only after its signature is verified again, on every load
(`load_verified`), so an archive changed in the database or a folder changed in the cache is refused; and unpacking
writes only inside the cache folder it is given.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.core.bundle import MANIFEST, BundleError, ModelBundle
from app.core.signing import SIGNATURE, SignatureError, key_fingerprint, load_public_key, verify_bundle

ARCHIVE_FORMAT = "tar.gz"
ARCHIVE_MEDIA_TYPE = "application/gzip"
CHUNK_BYTES = 1 << 20
# The bundle version format: numbers joined by dots, year first (2026.11.1, 2026.12.10). Nothing else reaches a file
# name, a URL or the version order shared with the clinics (app.core.bundle.version_key).
VERSION = re.compile(r"^[0-9]{1,6}(?:\.[0-9]{1,6}){1,3}$")


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


def check_version(version: object) -> str:
    """`version` when it is of the bundle version format; RegistryError (which never repeats it whole) otherwise."""
    if isinstance(version, str) and VERSION.match(version):
        return version
    shown = repr(version)[:40]
    raise RegistryError(f"{shown} is not a bundle version: numbers joined by dots, such as 2026.12.1")


def trusted_key(source: Path | Ed25519PublicKey) -> Ed25519PublicKey:
    try:
        return source if isinstance(source, Ed25519PublicKey) else load_public_key(source)
    except (OSError, SignatureError) as exc:
        raise RegistryError(f"cannot use the trusted public key {source}: {exc}") from None


def load_verified(folder: Path, public_key: Path | Ed25519PublicKey) -> ModelBundle:
    """The bundle in `folder`, after checking that its signature verifies with the trusted key and that its files
    match the signed manifest. Raises RegistryError."""
    key = trusted_key(public_key)
    try:
        verify_bundle(folder, key)
        bundle = ModelBundle.load(folder)
    except (SignatureError, BundleError) as exc:
        raise RegistryError(f"refused to load the bundle in {folder.name}: {exc}") from None
    check_version(bundle.version)
    return bundle


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


def prepare(bundle_dir: Path, *, public_key: Path | Ed25519PublicKey | None = None,
            today: dt.date | None = None) -> PreparedBundle:
    """Check a bundle folder as a clinic would, then pack it. Raises RegistryError with the reason.

    `public_key` is the trusted key (default: the key the clinics' app pins). The signature must verify with it:
    an unsigned bundle, one signed with another key, or one changed after signing is refused.
    """
    from app.core.signing import pinned_public_key_path

    bundle_dir = Path(bundle_dir)
    try:
        bundle = ModelBundle.load(bundle_dir)  # files match the manifest, format known
    except BundleError as exc:
        raise RegistryError(str(exc)) from exc
    except (KeyError, ValueError, TypeError) as exc:
        raise RegistryError(f"bundle {bundle_dir}: manifest is incomplete ({exc!r})") from exc
    check_version(bundle.manifest.get("version"))
    if bundle.expired(today):
        raise RegistryError(f"bundle {bundle.version} expired on {bundle.expires}; clinics would refuse it")
    if not (bundle_dir / SIGNATURE).is_file():
        raise RegistryError(
            f"bundle {bundle.version} is not signed ({SIGNATURE} is missing): sign it offline with "
            "`python -m model_export.sign BUNDLE --key PRIVATE_KEY`; clinics refuse unsigned bundles"
        )
    key = trusted_key(public_key if public_key is not None else pinned_public_key_path())
    try:
        verify_bundle(bundle_dir, key)
    except SignatureError as exc:
        raise RegistryError(str(exc)) from exc
    signature = (bundle_dir / SIGNATURE).read_text(encoding="ascii").strip()
    signed_by = key_fingerprint(key)
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


def unpack(chunks: Iterable[bytes], expected_sha256: str, cache_dir: Path, version: str,
           public_key: Path | Ed25519PublicKey) -> Path:
    """Unpack an archive into `cache_dir/<version>-<sha>` (once; later calls reuse it) and return the folder, whose
    signature verifies with `public_key` (checked on every call, the cached folder included).

    Several workers may do this at the same moment: each unpacks into its own temporary folder and renames it into
    place, and the loser of the race throws its copy away.
    """
    check_version(version)
    if not re.fullmatch(r"[0-9a-f]{64}", expected_sha256):
        raise RegistryError(f"the stored sha256 of {version} is not a sha256; re-publish it")
    target = cache_dir / f"{version}-{expected_sha256[:16]}"
    if target.resolve().parent != cache_dir.resolve():  # never true for a checked version; kept as the last guard
        raise RegistryError(f"{version} would unpack outside the cache folder")
    if (target / MANIFEST).is_file():
        load_verified(target, public_key)
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
        bundle = load_verified(folder, public_key)  # before it is renamed into place, where others would use it
        if bundle.version != version:
            raise RegistryError(f"the archive stored as {version} holds version {bundle.version}; re-publish it")
        try:
            os.rename(folder, target)
        except OSError:
            if not (target / MANIFEST).is_file():
                raise
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)
