"""Sealed files carried on a USB stick between a clinic laptop and the central service (feedback out, receipts back).

For clinics that are never online, the pending feedback leaves the laptop as one file that IT staff import on the
central service (`vereda-server import-feedback`), and a receipt comes back the same way so the laptop can mark
what the service stored. Both directions use this one format, shared by `app.sync.usb` and `server.cli`.

Design (docs/security.md, "USB files"): the file is JSON with a clear header (format, kind, device id, clinic id,
creation time, record count, salt, nonce) and the payload (gzip-compressed JSON) encrypted with AES-256-GCM; the
whole header is the GCM associated data, so changing any byte of header or payload makes the file refuse to open.
The key is HKDF-SHA256 of the sha256 of the device token, with a random salt per file and the kind in the info:
the laptop holds the token, and the service holds exactly that sha256 (it is how it recognises the device), so both
ends can seal and open without any new secret being stored anywhere. What this buys: the stick's contents are
unreadable and unforgeable for whoever finds or handles it, and a file of one device cannot pass as another's.
What it does not: someone who can read the service's database can also open and make these files for that device
(they can already read every stored record; they still cannot use the HTTP API, which wants the token itself).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import gzip
import hashlib
import io
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT = "vereda-sealed-file"
VERSION = 1
KINDS = ("feedback", "receipt")
MAX_FILE_BYTES = 64 * 1024 * 1024  # ~100,000 records; a larger file is not ours
MAX_PAYLOAD_BYTES = 256 * 1024 * 1024  # after gunzip: a bound against a compression bomb
_HEADER_FIELDS = ("format", "version", "kind", "device_id", "clinic_id", "created", "count", "salt", "nonce")


class SealedFileError(ValueError):
    """A file that is not a sealed Vereda file, was altered, or was sealed for another device. The message says
    which, without echoing the file's content."""


def token_key_material(device_token: str) -> bytes:
    """The 32 bytes both ends know: sha256 of the device token (the service stores it as hex)."""
    return hashlib.sha256(device_token.encode()).digest()


def _key(material: bytes, salt: bytes, kind: str) -> bytes:
    info = f"{FORMAT} v{VERSION} {kind}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(material)


def _aad(header: dict[str, Any]) -> bytes:
    return json.dumps({k: header[k] for k in _HEADER_FIELDS}, sort_keys=True, separators=(",", ":")).encode()


def seal(kind: str, payload: dict[str, Any], *, key_material: bytes, device_id: int, clinic_id: str, count: int,
         created: dt.datetime | None = None) -> bytes:
    """The file's bytes: header in clear (authenticated), payload encrypted."""
    if kind not in KINDS:
        raise ValueError(f"unknown sealed file kind {kind!r}")
    salt, nonce = os.urandom(16), os.urandom(12)
    header: dict[str, Any] = {
        "format": FORMAT, "version": VERSION, "kind": kind, "device_id": int(device_id), "clinic_id": clinic_id,
        "created": (created or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "count": int(count), "salt": base64.b64encode(salt).decode(), "nonce": base64.b64encode(nonce).decode(),
    }
    plain = gzip.compress(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode(), mtime=0)
    ciphertext = AESGCM(_key(key_material, salt, kind)).encrypt(nonce, plain, _aad(header))
    return json.dumps({**header, "ciphertext": base64.b64encode(ciphertext).decode()}, indent=1).encode() + b"\n"


def read_header(data: bytes) -> dict[str, Any]:
    """The clear header (to find the device before opening). Raises SealedFileError if this is not our format."""
    if len(data) > MAX_FILE_BYTES:
        raise SealedFileError(f"the file is larger than {MAX_FILE_BYTES} bytes")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise SealedFileError("not a sealed Vereda file (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SealedFileError("not a sealed Vereda file")
    if doc.get("version") != VERSION:
        raise SealedFileError(f"unknown sealed file version {doc.get('version')!r}")
    missing = [k for k in (*_HEADER_FIELDS, "ciphertext") if k not in doc]
    if missing:
        raise SealedFileError(f"the header lacks {', '.join(missing)}")
    if doc["kind"] not in KINDS or not isinstance(doc["device_id"], int) or not isinstance(doc["count"], int):
        raise SealedFileError("the header is malformed")
    return doc


def open_sealed(data: bytes, *, key_material: bytes, kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, payload) of a file of `kind`; SealedFileError when it is altered, of another kind or device."""
    doc = read_header(data)
    if doc["kind"] != kind:
        raise SealedFileError(f"this is a {doc['kind']} file, not a {kind} file")
    try:
        salt, nonce = base64.b64decode(doc["salt"], validate=True), base64.b64decode(doc["nonce"], validate=True)
        ciphertext = base64.b64decode(doc["ciphertext"], validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise SealedFileError("the file is damaged (bad base64)") from None
    if len(nonce) != 12 or len(salt) != 16:
        raise SealedFileError("the header is malformed")
    try:
        plain = AESGCM(_key(key_material, salt, kind)).decrypt(nonce, ciphertext, _aad(doc))
    except InvalidTag:
        raise SealedFileError("the file was altered, or it was sealed for another device") from None
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(plain)) as fh:
            raw = fh.read(MAX_PAYLOAD_BYTES + 1)
        if len(raw) > MAX_PAYLOAD_BYTES:
            raise SealedFileError("the payload is too large")
        payload = json.loads(raw)
    except (OSError, ValueError, EOFError):
        raise SealedFileError("the payload is damaged") from None
    if not isinstance(payload, dict):
        raise SealedFileError("the payload is malformed")
    header = {k: doc[k] for k in _HEADER_FIELDS}
    return header, payload

