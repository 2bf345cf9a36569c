"""A batch of validated requests as columns of numbers, for the vectorised engine (features, scores, danger signs).

Reading a request field by field costs a Python call per field and per patient; here each request is read once, into
dense matrices (symptom intensities, vitals, signs) and a few vectors (age, duration, pregnancy, AVPU), and every
rule or score after that is a numpy operation over the whole batch. "Not given" is NaN for a number (so a comparison
with it is False, as `value is not None and value >= limit` was), 0 for a symptom and False for a sign.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from functools import cached_property

import numpy as np

from app.core.contract import DiagnoseRequest

NAN = float("nan")
# AVPU as numbers; -1 = not assessed. Matches the order of the scale (A best, U worst).
AVPU_INDEX: dict[str | None, int] = {None: -1, "A": 0, "V": 1, "P": 2, "U": 3}


class _ColumnIndex(dict[str, int]):
    """Column of each key seen so far (symptom keys, vital keys, sign codes); grows when a new key shows up.

    Shared by every batch of a process so a key keeps its column; the lock keeps two threads from giving two keys
    the same column."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def __missing__(self, key: str) -> int:
        with self._lock:
            return self.setdefault(key, len(self))


_SYMPTOMS = _ColumnIndex()
_VITALS = _ColumnIndex()
_SIGNS = _ColumnIndex()


def _dense(n: int, keys_per_row: Sequence[Collection[str]], values: list[float] | None, index: _ColumnIndex,
           fill: float, dtype: type) -> np.ndarray:
    counts = [len(k) for k in keys_per_row]
    columns = [index[k] for keys in keys_per_row for k in keys]
    out: np.ndarray = np.full((n, len(index)), fill, dtype=dtype)
    if columns:
        rows = np.repeat(np.arange(n), counts)
        out[rows, columns] = True if values is None else values
    return out


class Cases:
    """Columns of a batch of requests. Build once per batch; every accessor is a view or a cheap numpy result."""

    def __init__(self, requests: Sequence[DiagnoseRequest]) -> None:
        n = len(requests)
        self.n = n
        self.requests = requests
        self.age = np.fromiter((r.age for r in requests), np.float64, n)
        self.female = np.fromiter((r.sex == "F" for r in requests), np.bool_, n)
        self.duration = np.fromiter((NAN if r.duration_days is None else r.duration_days for r in requests),
                                    np.float64, n)
        self.avpu = np.fromiter((AVPU_INDEX[r.consciousness] for r in requests), np.int64, n)
        pregnancy = [r.pregnancy for r in requests]
        self.pregnancy_status = [None if p is None else p.status for p in pregnancy]
        self.pregnant = np.fromiter((s == "pregnant" for s in self.pregnancy_status), np.bool_, n)
        self.postpartum = np.fromiter((s == "postpartum" for s in self.pregnancy_status), np.bool_, n)
        self.weeks = np.fromiter((NAN if p is None or p.weeks is None else p.weeks for p in pregnancy), np.float64, n)
        self.days_since_delivery = np.fromiter(
            (NAN if p is None or p.days_since_delivery is None else p.days_since_delivery for p in pregnancy),
            np.float64, n)
        symptoms = [r.symptoms for r in requests]
        self._symptoms = _dense(n, symptoms, [v for m in symptoms for v in m.values()], _SYMPTOMS, 0, np.int64)
        vitals = [r.vitals for r in requests]
        self._vitals = _dense(n, vitals, [v for m in vitals for v in m.values()], _VITALS, NAN, np.float64)
        self._signs = _dense(n, [r.signs for r in requests], None, _SIGNS, False, np.bool_)

    @classmethod
    def repeated(cls, request: DiagnoseRequest, n: int) -> Cases:
        """`Cases([request] * n)`, each column filled in one call instead of read row by row: next_findings starts
        a request's variants from its columns copied (tests/core/test_cases.py holds the two equal)."""
        v = object.__new__(cls)
        v.n, v.requests = n, [request] * n
        p = request.pregnancy
        status = None if p is None else p.status
        v.pregnancy_status = [status] * n
        # The numbers and the flags as the rows of two arrays (one call each, not one a column).
        v.age, v.duration, v.weeks, v.days_since_delivery = np.repeat(np.array(
            [[request.age], [NAN if request.duration_days is None else request.duration_days],
             [NAN if p is None or p.weeks is None else p.weeks],
             [NAN if p is None or p.days_since_delivery is None else p.days_since_delivery]], np.float64), n, axis=1)
        v.female, v.pregnant, v.postpartum = np.repeat(np.array(
            [[request.sex == "F"], [status == "pregnant"], [status == "postpartum"]], np.bool_), n, axis=1)
        v.avpu = np.full(n, AVPU_INDEX[request.consciousness], np.int64)
        # Each key's column looked up (a new key gets one) before the matrices are sized, as `_dense` does.
        symptoms = [_SYMPTOMS[k] for k in request.symptoms]
        vitals = [_VITALS[k] for k in request.vitals]
        signs = [_SIGNS[c] for c in request.signs]
        v._symptoms = np.zeros((n, len(_SYMPTOMS)), np.int64)
        v._symptoms[:, symptoms] = list(request.symptoms.values())
        v._vitals = np.full((n, len(_VITALS)), NAN)
        v._vitals[:, vitals] = list(request.vitals.values())
        v._signs = np.zeros((n, len(_SIGNS)), np.bool_)
        v._signs[:, signs] = True
        return v

    def symptom(self, key: str) -> np.ndarray:
        """Intensity 0-10 of a symptom (0 when not given)."""
        j = _SYMPTOMS.get(key)
        return self._symptoms[:, j] if j is not None and j < self._symptoms.shape[1] else np.zeros(self.n, np.int64)

    def vital(self, key: str) -> np.ndarray:
        """A vital sign, NaN when not measured."""
        j = _VITALS.get(key)
        return self._vitals[:, j] if j is not None and j < self._vitals.shape[1] else np.full(self.n, NAN)

    def sign(self, code: str) -> np.ndarray:
        """Whether the examination sign was found."""
        j = _SIGNS.get(code)
        return self._signs[:, j] if j is not None and j < self._signs.shape[1] else np.zeros(self.n, np.bool_)

    def max_symptom(self, *keys: str) -> np.ndarray:
        # Pairwise maxima into one new array: a third of np.max(np.vstack(...)), which the rules call ~10 times a batch.
        columns = [self.symptom(k) for k in keys]
        most: np.ndarray = columns[0].copy() if len(columns) == 1 else np.maximum(columns[0], columns[1])
        for column in columns[2:]:
            np.maximum(most, column, out=most)
        return most

    @cached_property
    def months(self) -> np.ndarray:
        return self.age * 12.0

    @cached_property
    def avpu_vpu(self) -> np.ndarray:
        """AVPU V, P or U."""
        return self.avpu >= 1

    @cached_property
    def avpu_pu(self) -> np.ndarray:
        """AVPU P or U."""
        return self.avpu >= 2

    def recent(self, days: float) -> np.ndarray:
        """The illness began at most `days` ago, or its duration was not given."""
        return np.isnan(self.duration) | (self.duration <= days)
