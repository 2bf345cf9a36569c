"""Ed25519 signatures of model bundles: who may make a bundle that clinics will install.

A bundle's `manifest.json` pins every file by sha256, so signing the manifest's exact bytes signs the whole bundle.
The signature lives beside it in `manifest.sig` as one line of base64 (64 raw bytes), so it survives e-mail, USB
sticks and `git diff`. Bundles are signed offline with the organisation's private key (`python -m model_export.sign`);
the app and the installer pin the public key, and the central service only stores and serves what was signed, so a
compromised service cannot make a clinic install anything.

Keys are PEM: PKCS#8 for the private key (optionally encrypted with a passphrase), SubjectPublicKeyInfo for the
public one. No key is read from the network.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from app.core.files import PUBLIC_FILE, write_atomic

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SIGNATURE_BYTES = 64
DEV_PUBLIC_KEY = "dev-public.pem"
ORG_PUBLIC_KEY = "public.pem"


class SignatureError(RuntimeError):
    """A signature that is missing, malformed or does not match the pinned key. The message says which."""


def generate_key_pair(passphrase: bytes | None = None) -> tuple[bytes, bytes]:
    """A new Ed25519 key pair as (private PEM, public PEM); the private one encrypted when a passphrase is given."""
    private = Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    private_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    return private_pem, public_pem(private.public_key())


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key(path: Path, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=passphrase)
    except (ValueError, TypeError) as exc:
        # cryptography says "Bad decrypt" or "Password was not given"; name the file so the operator knows which.
        raise SignatureError(f"{path}: not a readable private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(source: Path | bytes) -> Ed25519PublicKey:
    """A public key from a PEM file or PEM bytes."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    where = "the given key" if isinstance(source, bytes) else str(source)
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise SignatureError(f"{where}: not a readable public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError(f"{where}: not an Ed25519 public key")
    return key


def key_fingerprint(key: Ed25519PublicKey) -> str:
    """Short, stable name of a public key (sha256 of its 32 raw bytes) for logs, listings and the audit log."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign_manifest_bytes(manifest: bytes, key: Ed25519PrivateKey) -> bytes:
    """The `manifest.sig` content for these exact manifest bytes (base64 line)."""
    return base64.b64encode(key.sign(manifest)) + b"\n"


def decode_signature(text: bytes) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError(f"{SIGNATURE} is not base64 ({exc})") from exc
    if len(raw) != SIGNATURE_BYTES:
        raise SignatureError(f"{SIGNATURE} holds {len(raw)} bytes, an Ed25519 signature has {SIGNATURE_BYTES}")
    return raw


def verify_manifest_bytes(manifest: bytes, signature: bytes, key: Ed25519PublicKey) -> None:
    """Raise SignatureError unless `signature` (the `manifest.sig` content) signs `manifest` with `key`."""
    try:
        key.verify(decode_signature(signature), manifest)
    except InvalidSignature as exc:
        raise SignatureError(
            f"the signature does not match the manifest for key {key_fingerprint(key)}: the bundle was changed "
            "after signing or signed with another key"
        ) from exc


def sign_bundle(bundle_dir: Path, key: Ed25519PrivateKey) -> Path:
    """Write `manifest.sig` for the bundle in `bundle_dir` (atomically) and return its path."""
    bundle_dir = Path(bundle_dir)
    manifest = (bundle_dir / MANIFEST).read_bytes()
    target = bundle_dir / SIGNATURE
    write_atomic(target, sign_manifest_bytes(manifest, key), mode=PUBLIC_FILE)
    return target


def verify_bundle(bundle_dir: Path, key: Ed25519PublicKey) -> None:
    """Raise SignatureError unless the bundle's `manifest.sig` signs its `manifest.json` with `key`.

    This checks the signature only; `app.core.bundle.ModelBundle.load` checks that the files match the manifest.
    Both are needed before a bundle is trusted.
    """
    bundle_dir = Path(bundle_dir)
    sig_path = bundle_dir / SIGNATURE
    if not sig_path.is_file():
        raise SignatureError(f"bundle {bundle_dir} is not signed: {SIGNATURE} is missing")
    manifest_path = bundle_dir / MANIFEST
    if not manifest_path.is_file():
        raise SignatureError(f"bundle {bundle_dir}: {MANIFEST} is missing")
    verify_manifest_bytes(manifest_path.read_bytes(), sig_path.read_bytes(), key)


def keys_dir() -> Path:
    frozen_root = getattr(sys, "_MEIPASS", None)
    root = Path(frozen_root) if frozen_root else Path(__file__).resolve().parents[2]
    return root / "assets" / "keys"


def pinned_public_key_path() -> Path:
    """The public key this copy of Vereda trusts for model updates.

    `VEREDA_PUBLIC_KEY` overrides it (tests, IT staff checking a bundle). Otherwise an organisation's own key,
    `assets/keys/public.pem`, wins; the development key is used only where no organisation key was built in, and
    `is_development_key` lets the app say so.
    """
    override = os.environ.get("VEREDA_PUBLIC_KEY")
    if override:
        return Path(override)
    org = keys_dir() / ORG_PUBLIC_KEY
    return org if org.is_file() else keys_dir() / DEV_PUBLIC_KEY


def is_development_key(key: Ed25519PublicKey) -> bool:
    dev = keys_dir() / DEV_PUBLIC_KEY
    return dev.is_file() and key_fingerprint(load_public_key(dev)) == key_fingerprint(key)
