"""Staff passwords for the web page: hashed with scrypt (memory-hard, in the standard library), checked safely.

Unlike device tokens, a password is chosen by a person and can be guessed, so it gets a slow, memory-hard hash: each
guess against a stolen table costs 32 MiB and tens of milliseconds. The stored form names its parameters
(`scrypt$ln$r$p$salt$hash`), so stronger parameters can come later and old hashes still verify (and are re-hashed at
the next login, see `needs_rehash`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

MIN_LENGTH = 10
MAX_LENGTH = 256  # scrypt takes any length; the cap only keeps a megabyte "password" from costing CPU


@dataclass(frozen=True, slots=True)
class ScryptCost:
    log2_n: int = 15  # N = 32768: with r = 8, 32 MiB per hash (OWASP's minimum is 19 MiB)
    r: int = 8
    p: int = 1

    @property
    def maxmem(self) -> int:
        return 2 * 128 * self.r * (2**self.log2_n) * self.p + 1024 * 1024


DEFAULT_COST = ScryptCost()
_PREFIX = "scrypt"


class PasswordRejected(ValueError):
    """A new password that does not meet the rules; the message says which one."""


def check_new_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordRejected(f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(f"the password must have at most {MAX_LENGTH} characters")
    if password.strip() != password:
        # Almost always a stray newline from a file or a paste, which the person would never type at login.
        raise PasswordRejected("the password must not start or end with spaces or line breaks")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, cost: ScryptCost) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=2**cost.log2_n, r=cost.r, p=cost.p,
                          maxmem=cost.maxmem, dklen=32)


def hash_password(password: str, cost: ScryptCost = DEFAULT_COST) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, cost)
    return f"{_PREFIX}${cost.log2_n}${cost.r}${cost.p}${_b64(salt)}${_b64(digest)}"


def _parse(stored: str) -> tuple[ScryptCost, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != _PREFIX:
        return None
    try:
        cost = ScryptCost(int(parts[1]), int(parts[2]), int(parts[3]))
        return cost, base64.b64decode(parts[4]), base64.b64decode(parts[5])
    except ValueError:
        return None


def verify_password(password: str, stored: str | None) -> bool:
    """True when `password` matches `stored`. With `stored=None` (no such user) a hash is still computed, so the
    answer takes as long as for a real account and does not tell which user names exist."""
    parsed = _parse(stored) if stored else None
    if parsed is None or len(password) > MAX_LENGTH:
        _scrypt(password[:MAX_LENGTH], b"\0" * 16, DEFAULT_COST)
        return False
    cost, salt, expected = parsed
    return hmac.compare_digest(_scrypt(password, salt, cost), expected)


def needs_rehash(stored: str, cost: ScryptCost = DEFAULT_COST) -> bool:
    parsed = _parse(stored)
    return parsed is None or parsed[0] != cost
