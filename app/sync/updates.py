"""Signed model updates: download resumably, verify everything, activate atomically, keep the previous one.

Installed bundles live in `<data_dir>/models/<version>/`; the file `<data_dir>/models/active` (JSON, written with
temp file + fsync + os.replace) names the one in use and the one before it. `active_bundle_dir()` is what the app
loads; without an installed bundle (or if the pointer is damaged) it is the bundle shipped with the app.

An update is installed only if all of these hold, checked in this order (each refusal has its own SyncError code,
recorded in the audit log):

1. the registry entry offers a version newer than the active one, unexpired, no larger than MAX_ARCHIVE_BYTES;
2. the download (resumed from `<version>-<sha>.tar.gz.partial` after a cut, with `Range` + `If-Range`) never grows
   past the declared size ("endless data") and its sha256 is the declared one;
3. the archive holds only regular files with plain relative names (no absolute paths, `..`, links or devices),
   within size and count bounds, unpacked into a staging folder beside the installed ones;
4. `manifest.sig` signs `manifest.json` with the pinned public key (`app.core.signing.pinned_public_key_path`);
   the manifest is the one the registry announced; the files are exactly those the manifest pins and match their
   sha256 (no extra, missing or swapped file: "mix-and-match"; `ModelBundle.load` checks the hashes);
5. the signed manifest's version is newer than the active one (rollback) and its expiry date has not passed (freeze);
6. the bundle's own check cases pass (app/core/check_cases.py).

Then the staging folder is renamed into place and the pointer replaced: a crash at any moment leaves either the old
or the new model active, never half of one. The previous installed version is kept (`rollback()` goes back to it);
older ones are removed. USB imports (app/sync/usb.py) go through the same `install_archive()`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import requests

from app.core.bundle import MANIFEST, BundleError, ModelBundle, is_newer, shipped_bundle_dir
from app.core.files import fsync_dir, write_json_atomic
from app.core.signing import (
    SIGNATURE,
    SignatureError,
    load_public_key,
    pinned_public_key_path,
    verify_manifest_bytes,
)
from app.sync.client import RetryPolicy, describe
from app.sync.messages import SyncError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from app.sync.client import CentralClient
    from app.sync.outbox import StoreCall

log = logging.getLogger(__name__)

MODELS_DIR = "models"
ACTIVE_FILE = "active"
DOWNLOADS_DIR = ".downloads"
REFUSED_FILE = ".refused.json"
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024  # today's bundle is 64 KB; a rare-disease index may add megabytes, not hundreds
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
MAX_MEMBERS = 256
CHUNK = 16 * 1024  # what a cut connection can lose of the bytes already received (urllib3 drops a short last read)
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
# Refusals that judge the archive's verified content, not the way it travelled: the same archive (same sha256) would
# be refused again, so it is not downloaded again. A sha256 mismatch or endless data may be the link's doing.
_VERDICTS_ON_CONTENT = frozenset({"update_unsigned", "update_bad_signature", "update_manifest_mismatch",
                                  "update_files_mismatch", "update_older", "update_expired", "update_checks_failed",
                                  "update_unsafe_archive"})
_VERSION_DIR = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+-]{0,39}$")  # a version is also a folder name


# -------------------------------------------------------------------------------------------------- the pointer
@dataclass(frozen=True)
class ActivePointer:
    """`version` None means the shipped bundle. `previous` is kept on disk for rollback. `withdrawn` lists
    versions rolled back by IT staff, which updates will not install again."""

    version: str | None
    previous: str | None = None
    source: str = "shipped"
    activated_at: str = ""
    withdrawn: tuple[str, ...] = ()


def models_dir(data_dir: Path) -> Path:
    return Path(data_dir) / MODELS_DIR


def read_active(data_dir: Path) -> ActivePointer | None:
    path = models_dir(data_dir) / ACTIVE_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return ActivePointer(raw.get("version"), raw.get("previous"), str(raw.get("source", "")),
                             str(raw.get("activated_at", "")), tuple(raw.get("withdrawn", ())))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        # A damaged pointer must not stop the clinic: the shipped model answers and the log says why.
        log.warning("ignoring unreadable model pointer %s: %s", path, exc)
        return None


def _installed(data_dir: Path, version: str | None) -> Path | None:
    if not version or "/" in version or "\\" in version or version.startswith("."):
        return None
    path = models_dir(data_dir) / version
    return path if (path / MANIFEST).is_file() else None


def active_bundle_dir(data_dir: Path) -> Path:
    """The bundle the app should load: the installed active one, else the one shipped with the app."""
    pointer = read_active(data_dir)
    installed = _installed(data_dir, pointer.version) if pointer else None
    return installed or shipped_bundle_dir()


def bundle_version(bundle_dir: Path) -> str:
    return str(json.loads((Path(bundle_dir) / MANIFEST).read_text(encoding="utf-8"))["version"])


def active_version(data_dir: Path) -> str:
    return bundle_version(active_bundle_dir(data_dir))


def write_active(data_dir: Path, pointer: ActivePointer) -> None:
    """Replace the pointer atomically (temp file, fsync, os.replace, fsync the folder): the store's own writer."""
    folder = models_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder / ACTIVE_FILE, {**asdict(pointer), "withdrawn": list(pointer.withdrawn)})


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -------------------------------------------------------------------------------------------------- download
def _partial_path(data_dir: Path, version: str, sha256: str) -> Path:
    safe = re.sub(r"[^0-9A-Za-z.+-]", "_", version)[:40]
    return models_dir(data_dir) / DOWNLOADS_DIR / f"{safe}-{sha256[:16]}.tar.gz.partial"


def download_archive(client: CentralClient, entry: dict[str, Any], data_dir: Path, *,
                     retry: RetryPolicy | None = None, max_bytes: int = MAX_ARCHIVE_BYTES,
                     progress: Callable[[int, int], None] | None = None) -> Path:
    """Download the archive of a registry entry into a `.partial` file, resuming what an earlier cut left.

    Returns the complete file (sha256 checked). Raises SyncError: `update_too_large` before anything is fetched,
    `update_endless` when the server sends more than declared, `update_sha256_mismatch` (the partial file is then
    deleted), or a transient error when the link keeps failing (the partial file is kept for the next run).
    """
    archive = entry["archive"]
    version, sha256, size = str(entry["version"]), str(archive["sha256"]).lower(), int(archive["size"])
    if size > max_bytes or size <= 0:
        raise SyncError("update_too_large", size=size, limit=max_bytes)
    partial = _partial_path(data_dir, version, sha256)
    partial.parent.mkdir(parents=True, exist_ok=True)
    for other in partial.parent.glob("*.partial"):  # an older offer's leftovers
        if other != partial:
            other.unlink(missing_ok=True)
    policy = retry or client.retry
    attempt = restarts = 0
    while True:
        have = partial.stat().st_size if partial.exists() else 0
        if have > size:
            partial.unlink()
            have = 0
        if have == size:
            break
        try:
            if _fetch(client, archive["url"], partial, have, size, sha256, progress):
                continue  # complete: the loop re-checks the size
            restarts += 1  # the server did not serve our range: start over, a bounded number of times
            if restarts > 2:
                raise SyncError("bad_response", transient=True, detail="the server does not resume downloads")
            continue
        except SyncError as exc:
            if not exc.transient:
                raise
            error = exc
        except requests.RequestException as exc:  # cut in the middle of the body: keep what arrived
            error = SyncError("unreachable", transient=True, detail=describe(exc))
        log.info("download of %s interrupted at %d of %d bytes: %s", version, partial.stat().st_size
                 if partial.exists() else 0, size, error.params.get("detail"))
        if attempt + 1 >= policy.attempts:
            raise error
        policy.wait(attempt)
        attempt += 1
    digest = hashlib.sha256()
    with partial.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != sha256:
        partial.unlink()
        raise SyncError("update_sha256_mismatch", version=version)
    return partial


def _fetch(client: CentralClient, url: str, partial: Path, have: int, size: int, sha256: str,
           progress: Callable[[int, int], None] | None) -> bool:
    """Fetch from byte `have` to the end into `partial`. False when the partial file had to be dropped."""
    headers = {"Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
        headers["If-Range"] = f'"{sha256}"'  # a partial file of another archive gets the whole new one (200)
    response = client.request("GET", url, headers=headers, stream=True, retry=False)
    with contextlib.closing(response):
        if response.status_code == 416:  # our partial file is not a prefix the server knows: start over
            partial.unlink(missing_ok=True)
            return False
        if response.status_code == 200:
            offset = 0
        elif response.status_code == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != have or int(match.group(3)) != size:
                partial.unlink(missing_ok=True)  # not the range we asked for: start over rather than guess
                return False
            offset = have
        else:
            raise client.error_for(response)
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and offset + int(declared) > size:
            raise SyncError("update_endless", size=size)
        written = offset
        with partial.open("r+b" if offset and partial.exists() else "wb") as fh:
            fh.seek(offset)
            fh.truncate()
            for chunk in response.iter_content(CHUNK):
                written += len(chunk)
                if written > size:
                    fh.close()
                    partial.unlink(missing_ok=True)
                    raise SyncError("update_endless", size=size)
                fh.write(chunk)
                if progress is not None:
                    progress(written, size)
            fh.flush()
            os.fsync(fh.fileno())
        if written < size:
            raise SyncError("unreachable", transient=True, detail="download cut short")
    return True


# -------------------------------------------------------------------------------------------------- unpack, verify
def _member_name(member: tarfile.TarInfo) -> str:
    name = member.name
    path = PurePosixPath(name)
    if (not member.isreg() or not name or "\\" in name or path.is_absolute() or any(
            part in ("", ".", "..") for part in name.split("/")) or name.startswith("./")):
        kind = "link" if member.issym() or member.islnk() else "entry"
        raise SyncError("update_unsafe_archive", name=f"{kind} {name[:80]!r}")
    return name


def unpack_archive(archive: Path, target: Path) -> list[str]:
    """Unpack a bundle archive into the empty folder `target`, refusing anything but plain files. Returns names."""
    names: list[str] = []
    total = 0
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = _member_name(member)
                if name in names:
                    raise SyncError("update_unsafe_archive", name=f"duplicate {name!r}")
                names.append(name)
                total += member.size
                if len(names) > MAX_MEMBERS or total > MAX_UNPACKED_BYTES:
                    raise SyncError("update_unsafe_archive", name="too many or too large files")
                dest = target / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:
                    raise SyncError("update_unsafe_archive", name=f"entry {name!r}")
                with source, open(dest, "xb") as out:
                    shutil.copyfileobj(source, out, CHUNK)
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise SyncError("update_unsafe_archive", name=f"unreadable archive ({type(exc).__name__})") from None
    return names


@dataclass(frozen=True)
class InstalledBundle:
    version: str
    path: Path
    manifest_sha256: str
    manifest: dict[str, Any]
    previous: str | None
    source: str


def verify_staged(staging: Path, names: list[str], *, public_key: Ed25519PublicKey, active: str,
                  today: dt.date, expected_manifest_sha256: str | None = None,
                  expected_version: str | None = None, run_checks: bool = True) -> ModelBundle:
    """Steps 4-6 of the module docstring on an unpacked bundle. Raises SyncError with the reason."""
    manifest_path, sig_path = staging / MANIFEST, staging / SIGNATURE
    if not manifest_path.is_file():
        raise SyncError("update_files_mismatch", detail=f"{MANIFEST} is missing")
    if not sig_path.is_file():
        raise SyncError("update_unsigned")
    manifest_bytes = manifest_path.read_bytes()
    try:
        verify_manifest_bytes(manifest_bytes, sig_path.read_bytes(), public_key)
    except SignatureError:
        raise SyncError("update_bad_signature") from None
    manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
    if expected_manifest_sha256 is not None and manifest_sha256 != expected_manifest_sha256.lower():
        raise SyncError("update_manifest_mismatch", detail="manifest sha256")
    try:
        manifest = json.loads(manifest_bytes)
        version, pinned = str(manifest["version"]), set(manifest["files"])
    except (ValueError, KeyError, TypeError):
        raise SyncError("update_files_mismatch", detail=f"{MANIFEST} is incomplete") from None
    if expected_version is not None and version != expected_version:
        raise SyncError("update_manifest_mismatch", detail=f"version {version}")
    extra = sorted(set(names) - pinned - {MANIFEST, SIGNATURE})
    if extra:
        raise SyncError("update_files_mismatch", detail=f"unexpected file {extra[0][:60]}")
    try:
        bundle = ModelBundle.load(staging)  # every pinned file present and matching its sha256
    except BundleError as exc:
        raise SyncError("update_files_mismatch", detail=str(exc).replace(str(staging), "bundle")[:200]) from None
    except (KeyError, ValueError, TypeError) as exc:
        raise SyncError("update_files_mismatch", detail=f"manifest is incomplete ({exc})") from None
    if not is_newer(version, active):
        raise SyncError("update_older", version=version, active=active)
    if bundle.expired(today):
        raise SyncError("update_expired", version=version, expires=bundle.expires.isoformat())
    if run_checks:
        from app.core.check_cases import CheckCasesError, failures, load_cases
        from app.core.engine import DiagnosisEngine

        try:
            failed = failures(DiagnosisEngine(bundle), load_cases(staging))
        except CheckCasesError as exc:
            raise SyncError("update_checks_failed", version=version, detail=str(exc)) from None
        except Exception as exc:  # a model that does not even load is a failed check
            raise SyncError("update_checks_failed", version=version, detail=type(exc).__name__) from None
        if failed:
            raise SyncError("update_checks_failed", version=version, detail="; ".join(failed)[:300])
    return bundle


def _clean_leftovers(folder: Path) -> None:
    for path in folder.glob(".staging-*"):
        shutil.rmtree(path, ignore_errors=True)
    for path in folder.glob(".trash-*"):
        shutil.rmtree(path, ignore_errors=True)


def install_archive(archive: Path, data_dir: Path, *, source: str, public_key: Ed25519PublicKey | None = None,
                    today: dt.date | None = None, expected_manifest_sha256: str | None = None,
                    expected_version: str | None = None, run_checks: bool = True) -> InstalledBundle:
    """Verify and activate a bundle archive (from the service or a USB file). Raises SyncError on any refusal;
    the active model is then untouched."""
    folder = models_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    _clean_leftovers(folder)
    key = public_key or load_public_key(pinned_public_key_path())
    pointer = read_active(data_dir)
    active = active_version(data_dir)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))
    trash: Path | None = None
    try:
        names = unpack_archive(Path(archive), staging)
        bundle = verify_staged(staging, names, public_key=key, active=active, today=today or dt.date.today(),
                               expected_manifest_sha256=expected_manifest_sha256, expected_version=expected_version,
                               run_checks=run_checks)
        if pointer is not None and bundle.version in pointer.withdrawn:
            raise SyncError("update_older", version=bundle.version, active=active)
        if not _VERSION_DIR.match(bundle.version):
            raise SyncError("update_unsafe_archive", name=f"version {bundle.version[:40]!r}")
        final = folder / bundle.version
        if final.exists():  # a version rolled back from earlier, now offered again
            trash = folder / f".trash-{os.getpid()}-{bundle.version}"
            os.rename(final, trash)
        os.rename(staging, final)
        fsync_dir(folder)
        previous = pointer.version if pointer is not None and _installed(data_dir, pointer.version) else None
        write_active(data_dir, ActivePointer(bundle.version, previous, source, _now(),
                                             pointer.withdrawn if pointer else ()))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)
    keep = {bundle.version, previous}
    for path in folder.iterdir():  # older installs: only the active one and the one before it are kept
        if path.is_dir() and not path.name.startswith(".") and path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)
    log.info("model %s installed from %s (previous %s)", bundle.version, source, previous or "shipped")
    return InstalledBundle(bundle.version, final, bundle.manifest_sha256, bundle.manifest, previous, source)


def rollback(data_dir: Path) -> ActivePointer:
    """Go back to the previous model (or the shipped one); the current version is withdrawn: not reinstalled."""
    pointer = read_active(data_dir)
    if pointer is None or pointer.version is None:
        raise SyncError("no_previous_bundle")
    back = pointer.previous if _installed(data_dir, pointer.previous) else None
    new = ActivePointer(back, None, "rollback", _now(), (*pointer.withdrawn, pointer.version))
    write_active(data_dir, new)
    log.warning("model %s rolled back to %s", pointer.version, back or "the shipped model")
    return new


# -------------------------------------------------------------------------------------------------- the whole update
@dataclass
class ModelUpdate:
    """Outcome of one update check. status: installed | up_to_date | none_published | refused | interrupted."""

    status: str
    active: str
    version: str | None = None  # the version offered (installed or refused)
    error: SyncError | None = None
    installed: InstalledBundle | None = field(default=None, repr=False)

    def to_json(self, lang: str = "es") -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "version": self.version, "active": self.active}
        if self.error is not None:
            out["error"] = {"code": self.error.code, "message": self.error.message(lang)}
        return out


def _refused_before(data_dir: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((models_dir(data_dir) / REFUSED_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return {}


def _remember_refusal(data_dir: Path, sha256: str, error: SyncError) -> None:
    # A refused archive is not fetched again on every sync (bad links are paid for by the byte); a new archive
    # (another sha256) is always tried.
    known = _refused_before(data_dir)
    known[sha256] = {"code": error.code, "params": {k: v for k, v in error.params.items()
                                                    if isinstance(v, str | int | float)}}
    path = models_dir(data_dir) / REFUSED_FILE
    with contextlib.suppress(OSError):
        path.write_text(json.dumps(dict(list(known.items())[-20:]), indent=1), encoding="utf-8")


def record_outcome(call_store: StoreCall | None, result: ModelUpdate) -> None:
    """Put an install or a refusal in the store's audit log (and the installed-bundle table)."""
    if call_store is None:
        return
    if result.installed is not None:
        inst = result.installed

        def installed(store: Any) -> None:
            store.bundles.record_installed(version=inst.version, sha256=inst.manifest_sha256, source=inst.source,
                                           manifest=inst.manifest)
            store.audit.record_sync("model_installed", {"version": inst.version, "previous": inst.previous,
                                                        "source": inst.source})

        call_store(installed)
    elif result.status == "refused" and result.error is not None:
        detail = {"version": result.version, "code": result.error.code, "active": result.active}
        call_store(lambda store: store.audit.record_sync("model_refused", detail))


def update_from_service(client: CentralClient, data_dir: Path, call_store: StoreCall | None = None, *,
                        public_key: Ed25519PublicKey | None = None, today: dt.date | None = None,
                        max_bytes: int = MAX_ARCHIVE_BYTES,
                        progress: Callable[[int, int], None] | None = None) -> ModelUpdate:
    """Check the service for a newer production model and install it if it passes every check.

    Transient failures (no connection, a cut download) give status "interrupted" (the partial download is kept);
    an invalid token raises. Installs and refusals are recorded through `call_store`.
    """
    today = today or dt.date.today()
    active = active_version(data_dir)
    try:
        entry = client.latest_model()
    except SyncError as exc:
        if exc.transient:
            return ModelUpdate("interrupted", active, error=exc)
        raise
    if entry is None:
        return ModelUpdate("none_published", active)
    version = str(entry["version"])
    result = _decide(entry, data_dir, active, today, max_bytes)
    if result is None:
        archive_sha = str(entry["archive"].get("sha256", "")).lower()
        try:
            archive = download_archive(client, entry, data_dir, max_bytes=max_bytes, progress=progress)
            try:
                installed = install_archive(archive, data_dir, source="network", public_key=public_key, today=today,
                                            expected_manifest_sha256=entry.get("manifest_sha256"),
                                            expected_version=version)
            finally:
                archive.unlink(missing_ok=True)
            result = ModelUpdate("installed", installed.version, version, installed=installed)
        except SyncError as exc:
            if exc.transient:
                return ModelUpdate("interrupted", active, version, exc)
            result = ModelUpdate("refused", active, version, exc)
            if exc.code in _VERDICTS_ON_CONTENT:
                _remember_refusal(data_dir, archive_sha, exc)
    if result.status == "refused":
        log.warning("model %s refused: %s", version, result.error)
    record_outcome(call_store, result)
    return result


def _decide(entry: dict[str, Any], data_dir: Path, active: str, today: dt.date, max_bytes: int) -> ModelUpdate | None:
    """A result without downloading, from the registry entry alone; None when the archive should be fetched.

    The entry is not signed, so it can only make us skip work; everything it claims is checked again on the signed
    manifest after download.
    """
    version = str(entry["version"])
    if version == active:
        return ModelUpdate("up_to_date", active, version)
    if not is_newer(version, active):
        return ModelUpdate("refused", active, version, SyncError("update_older", version=version, active=active))
    pointer = read_active(data_dir)
    if pointer is not None and version in pointer.withdrawn:
        return ModelUpdate("up_to_date", active, version)
    try:
        expires = dt.date.fromisoformat(str(entry.get("expires")))
    except ValueError:
        expires = None
    if expires is not None and today > expires:
        return ModelUpdate("refused", active, version,
                           SyncError("update_expired", version=version, expires=expires.isoformat()))
    try:
        size = int(entry["archive"]["size"])
    except (KeyError, TypeError, ValueError):
        return ModelUpdate("refused", active, version, SyncError("bad_response", detail="archive size missing"))
    if size > max_bytes or size <= 0:
        return ModelUpdate("refused", active, version, SyncError("update_too_large", size=size, limit=max_bytes))
    refused = _refused_before(data_dir).get(str(entry["archive"].get("sha256", "")).lower())
    if refused is not None:
        try:
            error = SyncError(refused["code"], **refused["params"])
            error.message()
        except (KeyError, TypeError, IndexError):  # a damaged memory of a refusal: fetch and check again
            return None
        return ModelUpdate("refused", active, version, error)
    return None
