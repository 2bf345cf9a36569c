"""Key handling: the random data key that opens the database, its wraps per user and for recovery, and the keyring
file that holds the wraps.

The database is encrypted with one random 256-bit data key, given to SQLCipher as a raw key (no SQLCipher KDF).
Nobody types that key. Each user's passphrase goes through scrypt (memory-hard; parameters and salt stored with
the wrap, so they can be raised later without breaking old wraps) to a key-encryption key that seals the data key
with AES-256-GCM. The recovery key printed at setup seals it the same way. Changing a passphrase re-seals the data
key and touches nothing in the database. The associated data of each seal binds it to the clinic, the kind of wrap,
the user id and the KDF parameters, so a wrap moved to another user or edited fails to open instead of granting
that user's identity.

What Python can and cannot promise about memory is written down in docs/security.md: keys we hold live in
`bytearray`s that are overwritten on lock, but copies made by `hashlib`, `cryptography`, the hex string handed to
SQLCipher and SQLCipher itself are outside our control until the process frees them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.core.files import write_json_atomic
from app.store.messages import StoreError

KEY_BYTES = 32
KEYRING_FORMAT = 1
MIN_PASSPHRASE = 10
_AAD_PREFIX = b"vereda-keyring-1"


@dataclass(frozen=True, slots=True)
class KdfParams:
    """scrypt cost. The default (N=2^17, r=8, p=1: 128 MiB, about half a second) is OWASP's minimum for scrypt;
    tests pass cheaper parameters so that hundreds of unlocks stay fast. Stored with each wrap."""

    n: int = 2**17
    r: int = 8
    p: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"name": "scrypt", "n": self.n, "r": self.r, "p": self.p}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KdfParams:
        if data.get("name") != "scrypt":
            raise ValueError(f"unknown KDF {data.get('name')!r}")
        return cls(int(data["n"]), int(data["r"]), int(data["p"]))


DEFAULT_KDF = KdfParams()


class SecretKey:
    """A 256-bit key in a mutable buffer that `wipe()` overwrites. Not a guarantee: see the module docstring."""

    __slots__ = ("_buf",)

    def __init__(self, data: bytes | bytearray) -> None:
        if len(data) != KEY_BYTES:
            raise ValueError("a key is 32 bytes")
        self._buf = bytearray(data)
        if isinstance(data, bytearray):
            _overwrite(data)

    @classmethod
    def generate(cls) -> SecretKey:
        return cls(bytearray(os.urandom(KEY_BYTES)))

    def __len__(self) -> int:
        return len(self._buf)

    @property
    def wiped(self) -> bool:
        return not self._buf

    def raw(self) -> bytearray:
        """The live buffer (no copy); callers must not keep it."""
        if self.wiped:
            raise ValueError("the key was wiped")
        return self._buf

    def hex_pragma(self) -> str:
        """The `PRAGMA key` statement with the raw key. The str is immutable and cannot be wiped (documented)."""
        return f"PRAGMA key = \"x'{self.raw().hex()}'\""

    def derive(self, purpose: str) -> bytes:
        """A sub-key for `purpose` (audit anchor, pseudonyms), so the data key itself is used only by SQLCipher."""
        return hmac.new(bytes(self.raw()), b"vereda-subkey|" + purpose.encode(), hashlib.sha256).digest()

    def copy(self) -> SecretKey:
        return SecretKey(bytes(self.raw()))

    def wipe(self) -> None:
        _overwrite(self._buf)
        self._buf = bytearray()

    def __repr__(self) -> str:  # never print key material, even in a debugger or a log
        return "SecretKey(<wiped>)" if self.wiped else "SecretKey(<32 bytes>)"


def _overwrite(buf: bytearray) -> None:
    for i in range(len(buf)):
        buf[i] = 0


def normalise_passphrase(passphrase: str) -> bytes:
    # The same word typed on two keyboards may arrive as composed or decomposed accents ("á" vs "a" + U+0301).
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def check_passphrase_strength(passphrase: str) -> None:
    if len(unicodedata.normalize("NFC", passphrase).strip()) < MIN_PASSPHRASE:
        raise StoreError("passphrase_too_short", minimum=MIN_PASSPHRASE)


def derive_kek(secret: bytes, salt: bytes, params: KdfParams) -> bytearray:
    maxmem = 128 * params.r * params.n * params.p + (64 << 20)
    return bytearray(
        hashlib.scrypt(secret, salt=salt, n=params.n, r=params.r, p=params.p, maxmem=maxmem, dklen=KEY_BYTES)
    )


# --- recovery key --------------------------------------------------------------------------------------------
# 160 random bits in 8 groups of 4 base32 letters, then one group of checksum so a typo is reported as a typo
# instead of as "wrong key". Base32 avoids 0/O and 1/I confusions when read back from paper.
_RECOVERY_GROUPS = 8
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _recovery_checksum(body: str) -> str:
    digest = hashlib.sha256(b"vereda-recovery|" + body.encode()).digest()
    return base64.b32encode(digest)[:4].decode()


def generate_recovery_key() -> str:
    body = base64.b32encode(secrets.token_bytes(20)).decode()
    groups = [body[i : i + 4] for i in range(0, len(body), 4)]
    return "-".join([*groups, _recovery_checksum(body)])


def parse_recovery_key(text: str) -> bytes:
    """The secret bytes of a recovery key as typed (case, spaces and hyphens forgiven; typos reported)."""
    cleaned = re.sub(r"[\s\-]", "", text.upper()).replace("0", "O").replace("1", "I").replace("8", "B")
    if len(cleaned) != 4 * (_RECOVERY_GROUPS + 1) or any(c not in _B32 for c in cleaned):
        raise StoreError("recovery_key_typo")
    body, check = cleaned[:-4], cleaned[-4:]
    if not hmac.compare_digest(_recovery_checksum(body), check):
        raise StoreError("recovery_key_typo")
    return base64.b32decode(body)


# --- wraps and the keyring file --------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


@dataclass(slots=True)
class KeyWrap:
    """The data key sealed for one user (kind "user") or for the recovery key (kind "recovery")."""

    kind: str
    user_id: str
    login: str
    kdf: KdfParams
    salt: bytes
    nonce: bytes
    sealed: bytes

    def aad(self, clinic_id: str) -> bytes:
        kdf = json.dumps(self.kdf.to_json(), sort_keys=True)
        return b"|".join([_AAD_PREFIX, clinic_id.encode(), self.kind.encode(), self.user_id.encode(), kdf.encode()])

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "user_id": self.user_id,
            "login": self.login,
            "kdf": {**self.kdf.to_json(), "salt": _b64(self.salt)},
            "nonce": _b64(self.nonce),
            "sealed": _b64(self.sealed),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeyWrap:
        return cls(
            kind=str(data["kind"]),
            user_id=str(data["user_id"]),
            login=str(data["login"]),
            kdf=KdfParams.from_json(data["kdf"]),
            salt=_unb64(data["kdf"]["salt"]),
            nonce=_unb64(data["nonce"]),
            sealed=_unb64(data["sealed"]),
        )


def seal(data_key: SecretKey, secret: bytes, *, clinic_id: str, kind: str, user_id: str, login: str,
         kdf: KdfParams) -> KeyWrap:
    wrap = KeyWrap(kind, user_id, login, kdf, os.urandom(16), os.urandom(12), b"")
    kek = derive_kek(secret, wrap.salt, kdf)
    try:
        wrap.sealed = AESGCM(bytes(kek)).encrypt(wrap.nonce, bytes(data_key.raw()), wrap.aad(clinic_id))
    finally:
        _overwrite(kek)
    return wrap


def open_wrap(wrap: KeyWrap, secret: bytes, clinic_id: str) -> SecretKey | None:
    """The data key, or None when `secret` is not the one this wrap was sealed with (or the wrap was edited)."""
    kek = derive_kek(secret, wrap.salt, wrap.kdf)
    try:
        plain = AESGCM(bytes(kek)).decrypt(wrap.nonce, wrap.sealed, wrap.aad(clinic_id))
    except InvalidTag:
        return None
    finally:
        _overwrite(kek)
    return SecretKey(bytearray(plain))


@dataclass(slots=True)
class Keyring:
    """`keys.json`: the clinic id and every wrap of the data key. Holds no secret a passphrase does not guard."""

    clinic_id: str
    wraps: list[KeyWrap] = field(default_factory=list)

    def user_wrap(self, login: str) -> KeyWrap | None:
        return next((w for w in self.wraps if w.kind == "user" and w.login == login), None)

    def wrap_for_user_id(self, user_id: str) -> KeyWrap | None:
        return next((w for w in self.wraps if w.kind == "user" and w.user_id == user_id), None)

    def recovery_wrap(self) -> KeyWrap:
        wrap = next((w for w in self.wraps if w.kind == "recovery"), None)
        if wrap is None:
            raise ValueError("the keyring has no recovery wrap")
        return wrap

    def put(self, wrap: KeyWrap) -> None:
        self.wraps = [w for w in self.wraps if not (w.kind == wrap.kind and w.user_id == wrap.user_id)]
        self.wraps.append(wrap)

    def remove_user(self, user_id: str) -> None:
        self.wraps = [w for w in self.wraps if not (w.kind == "user" and w.user_id == user_id)]

    def to_json(self) -> dict[str, Any]:
        return {"format": KEYRING_FORMAT, "clinic_id": self.clinic_id, "wraps": [w.to_json() for w in self.wraps]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Keyring:
        if data.get("format") != KEYRING_FORMAT:
            raise ValueError(f"unknown keyring format {data.get('format')!r}")
        return cls(str(data["clinic_id"]), [KeyWrap.from_json(w) for w in data["wraps"]])

    def save(self, path: Path) -> None:
        write_json_atomic(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> Keyring:
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError("keyring_damaged", path=str(path), detail=str(exc) or type(exc).__name__) from exc
