"""Sign a model bundle offline, or check a signature: `python -m model_export.sign`.

    python -m model_export.sign BUNDLE --key PRIVATE.pem [--passphrase-file F]   # writes BUNDLE/manifest.sig
    python -m model_export.sign BUNDLE --verify --public-key PUBLIC.pem          # checks files and signature

Signing happens on the organisation's own machine, never on the central service: the service only stores and serves
signed bundles. Before signing, the bundle is loaded as the app would load it, so a bundle whose files do not match
its manifest is never signed. Prints a JSON summary; errors are JSON on stderr with exit status 1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from app.core.bundle import BundleError, ModelBundle
from app.core.signing import (
    MANIFEST,
    SignatureError,
    is_development_key,
    key_fingerprint,
    load_private_key,
    load_public_key,
    sign_bundle,
    verify_bundle,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model_export.sign", description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="model bundle folder (with manifest.json)")
    parser.add_argument("--key", type=Path, help="Ed25519 private key (PEM) to sign with")
    parser.add_argument("--passphrase-file", type=Path, help="file whose first line is the private key's passphrase")
    parser.add_argument("--verify", action="store_true", help="check the existing signature instead of signing")
    parser.add_argument("--public-key", type=Path, help="public key (PEM) to verify with")
    return parser


def _passphrase(path: Path | None) -> bytes | None:
    if path is None:
        return None
    lines = path.read_bytes().splitlines()
    return lines[0] if lines else b""


def run(args: argparse.Namespace) -> dict[str, Any]:
    bundle = ModelBundle.load(args.bundle)  # refuses a bundle whose files do not match its manifest
    summary: dict[str, Any] = {
        "bundle": str(args.bundle),
        "version": bundle.version,
        "manifest_sha256": hashlib.sha256((args.bundle / MANIFEST).read_bytes()).hexdigest(),
    }
    if args.verify:
        if args.public_key is None:
            raise SignatureError("--verify needs --public-key")
        public = load_public_key(args.public_key)
        verify_bundle(args.bundle, public)
        summary.update(verified=True, key=key_fingerprint(public))
        return summary
    if args.key is None:
        raise SignatureError("signing needs --key PRIVATE_KEY (or --verify to check a signature)")
    private = load_private_key(args.key, _passphrase(args.passphrase_file))
    public = private.public_key()
    if args.public_key is not None and key_fingerprint(load_public_key(args.public_key)) != key_fingerprint(public):
        raise SignatureError(f"the private key {args.key} does not belong to the public key {args.public_key}")
    path = sign_bundle(args.bundle, private)
    verify_bundle(args.bundle, public)  # a signature we cannot verify ourselves must not leave this machine
    summary.update(signature=str(path), key=key_fingerprint(public), development_key=is_development_key(public))
    return summary


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        summary = run(args)
    except (BundleError, SignatureError, OSError) as exc:
        kind = "bundle_error" if isinstance(exc, BundleError) else "signature_error"
        print(json.dumps({"error": {"code": kind, "field": None, "message": str(exc)}}), file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
