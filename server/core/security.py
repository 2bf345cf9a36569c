"""Enrollment codes, device tokens and web sessions: how they are made, typed, and stored (hashed).

All are random with full entropy (80 bits for a code an IT technician types, 256 bits for a device token or a staff
session id), so a plain sha256 is enough to store them: there is nothing to brute-force that a slow hash would
protect. The database never holds a usable code, token or session id. (Staff passwords are chosen by people and are
hashed slowly instead: see `passwords`.)
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata

# Crockford's base32: no I, L, O or U, so a code read over a bad phone line cannot be mistyped into another code.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_GROUPS, CODE_GROUP_LEN = 4, 4
_CODE_FIXES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_enrollment_code() -> str:
    chars = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUPS * CODE_GROUP_LEN))
    return "-".join(chars[i : i + CODE_GROUP_LEN] for i in range(0, len(chars), CODE_GROUP_LEN))


def normalise_code(code: str) -> str:
    """What the technician typed, as the code was made: case, spaces, dashes and look-alike letters forgiven."""
    return re.sub(r"[\s-]", "", code).upper().translate(_CODE_FIXES)


def hash_code(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def new_device_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def caller_tag(token: str) -> str:
    """A short, non-reversible name for a token in logs and rate-limit buckets."""
    return hash_token(token)[:12]


def clinic_slug(name: str) -> str:
    """A readable, ASCII public id for a clinic (`San José` -> `san-jose-3f9a`): metrics and logs stay legible."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:24].strip("-") or "clinic"
    return f"{slug}-{secrets.token_hex(2)}"


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(session_id: str) -> str:
    """The synchronizer token of a web session: a MAC of a fixed label keyed by the session id.

    Only someone holding the session id (which lives in an HttpOnly cookie and, hashed, in the database) can make
    it, so it needs no storage of its own, and neither the database nor a page that leaks the token gives the id.
    """
    return hmac.new(session_id.encode(), b"vereda-csrf-v1", hashlib.sha256).hexdigest()


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a token the client sent with the one expected."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())
