"""The audit log's hash chain and its anchor: how a later check tells that a row was edited or deleted.

Each entry's hash is SHA-256 over the previous entry's hash and this entry's fields in a canonical form, so changing
any field, removing a row or re-ordering rows breaks every hash after it. Triggers refuse UPDATE and DELETE, which
stops accidents and casual edits; the chain is what detects someone who dropped the triggers first.

Deleting the newest rows leaves a valid but shorter chain, so the newest (seq, hash) is also written, with an HMAC
under a key derived from the data key, to `audit-anchor.json` outside the database (beside the wrapped keys) after
every commit that appends to the log (app/store/context.py). A log shorter than its anchor lost committed work (rows
deleted, or the -wal file removed after a crash); one whose row at the anchored seq has another hash was rewritten.

Limits, stated in docs/security.md: someone who holds the data key can rebuild the whole chain and a matching anchor;
the chain detects tampering by anyone without the key and by tools that edit rows without recomputing hashes. A
crash between a commit and its anchor write leaves the anchor one transaction behind (that is not reported); rows
lost from that one transaction are not detectable. The anchor only moves forward, so a log found behind it keeps
the evidence until a restore replaces both.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.files import write_atomic

GENESIS = "0" * 64


def entry_hash(prev_hash: str, seq: int, at: str, user_id: str | None, action: str, subject: str | None,
               detail: str) -> str:
    """`at` and `detail` as stored (ISO text and canonical JSON), so the check can hash raw rows as read."""
    canonical = json.dumps([seq, at, user_id, action, subject, detail], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(prev_hash.encode("ascii") + b"|" + canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainProblem:
    code: str  # a key of messages.MESSAGES ("problem.audit_...")
    params: dict[str, Any]


def verify_chain(rows: Iterable[tuple[int, str, str | None, str, str | None, str, str, str]]) -> tuple[
        list[ChainProblem], int, str]:
    """Check raw rows (seq, at, user_id, action, subject, detail, prev_hash, entry_hash) in seq order.

    Returns the problems, the last seq and the last hash.
    """
    problems: list[ChainProblem] = []
    expected_prev, last_seq = GENESIS, 0
    for seq, at, user_id, action, subject, detail, prev, stored in rows:
        if seq != last_seq + 1:
            problems.append(ChainProblem("problem.audit_missing", {"after": last_seq, "before": seq}))
        if prev != expected_prev:
            problems.append(ChainProblem("problem.audit_relinked", {"seq": seq}))
        if entry_hash(prev, seq, at, user_id, action, subject, detail) != stored:
            problems.append(ChainProblem("problem.audit_edited", {"seq": seq}))
        expected_prev, last_seq = stored, seq
    return problems, last_seq, expected_prev


class AuditAnchor:
    """`audit-anchor.json`: the newest committed (seq, hash), authenticated with a derived key.

    It moves after almost every transaction (reading a patient's record is audited too), so it is not rewritten
    through a temporary file, an fsync, a rename and a folder fsync each time (about 8 ms here, which doubled the
    time of every save). The file holds two fixed-size slots written in turn in place, each fsynced: a crash or a
    torn write can damage only the slot being written, and the other one still holds the previous head, which
    leaves the anchor at most one transaction behind (never ahead), as a crash between commit and anchor would.
    The file is created, and rewritten whole when the head moves back (a restore), with the atomic write.
    """

    SLOT = 192  # bytes per slot: a JSON record padded with spaces and ended by a newline

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self._key = key
        self._newest: tuple[int, int] | None = None  # (slot, seq) of the newest valid slot, once known

    def _mac(self, seq: int, head: str) -> str:
        return hmac.new(self._key, f"{seq}|{head}".encode(), hashlib.sha256).hexdigest()

    def _record(self, seq: int, head: str) -> bytes:
        text = json.dumps({"seq": seq, "hash": head, "mac": self._mac(seq, head)}, separators=(",", ":"))
        return text.encode("ascii").ljust(self.SLOT - 1) + b"\n"

    def _parse(self, raw: bytes) -> tuple[int, str] | None:
        try:
            data = json.loads(raw.decode("ascii"))
            seq, head, mac = int(data["seq"]), str(data["hash"]), str(data["mac"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return None
        return (seq, head) if hmac.compare_digest(self._mac(seq, head), mac) else None

    def _slots(self) -> list[tuple[int, str] | None]:
        raw = self.path.read_bytes()
        if len(raw) != 2 * self.SLOT:
            return [self._parse(raw)]  # an anchor written whole by an older version: one record
        return [self._parse(raw[:self.SLOT]), self._parse(raw[self.SLOT:])]

    def write(self, seq: int, head: str) -> None:
        newest = self._newest
        if newest is None:
            try:
                slots = self._slots()
            except OSError:
                slots = []
            valid = [(s[0], i) for i, s in enumerate(slots) if s is not None]
            newest = (max(valid)[1], max(valid)[0]) if valid and len(slots) == 2 else None
        if newest is None or seq < newest[1]:
            # First write, an older one-record file, or the head moved back: write the whole file atomically.
            write_atomic(self.path, self._record(seq, head) + b" " * (self.SLOT - 1) + b"\n")
            self._newest = (0, seq)
            return
        slot = 1 - newest[0]
        fd = os.open(self.path, os.O_WRONLY)
        try:
            os.pwrite(fd, self._record(seq, head), slot * self.SLOT)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._newest = (slot, seq)

    def read(self) -> tuple[int, str] | None:
        """The anchored (seq, hash), or None when the file is missing or no slot's MAC verifies."""
        try:
            slots = [s for s in self._slots() if s is not None]
        except OSError:
            return None
        return max(slots) if slots else None
