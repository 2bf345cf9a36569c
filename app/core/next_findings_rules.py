"""Which danger-sign rules can answer a variant differently from its request (issue 19's speed-up; numpy only).

A variant of a request differs from it in ONE finding (a vital, a symptom, a sign, or the pregnancy answer), so a
rule that never reads that finding gives the variant the request's own answer. For one request, the rules whose
inputs none of its candidates change are evaluated once, on the request (`RedFlagRule.applies`, ~0.5 us a rule),
and only the others go through the batch form over the variants (`red_flags_batch`, ~15 us a rule in numpy calls
whatever the rows): about 40% of the rules' cost saved on a whole case.

What each rule reads is traced from the rules' own batch code when the ranking loads, not written down here, so
it follows the rules as they change: each rule runs once on an empty batch whose accessors (`symptom`, `vital`,
`sign`, the pregnancy columns) record what is asked for, including what the shared per-batch values it uses
(fever, shock index, NEWS2 and qSOFA, ...) were computed from. A rule that reaches the columns any other way reads
"everything" (it is always evaluated over the variants); if the tracing itself fails, every rule is. Each rule runs
on a batch of its own, so a shared value the batch computes on first use is traced as read by every rule using it.
tests/core/test_next_findings_fast.py holds the lists to the full evaluation's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.core import red_flags, red_flags_batch, scores
from app.core.cases import Cases

Input = tuple[str, str]  # ("vital" | "symptom" | "sign", key) or PREGNANCY
PREGNANCY: Input = ("pregnancy", "")
_PREGNANCY_COLUMNS = frozenset({"pregnant", "postpartum", "weeks", "days_since_delivery", "pregnancy_status"})
_RAW_COLUMNS = frozenset({"_symptoms", "_vitals", "_signs", "requests"})
_ANY: Input = ("any", "")


class _Trace:
    """What has been read since the last value was stored (a tuple assignment stores several after reading all)."""

    def __init__(self) -> None:
        self.read: set[Input] = set()
        self.names: set[str] = set()
        self.stored = False
        self.quiet = 0  # inside an accessor: its own reads of the matrices are not a rule's

    def touch(self) -> None:
        if self.stored:
            self.read.clear()
            self.names.clear()
            self.stored = False


def _recording_cases(trace: _Trace) -> Cases:
    class Recording(Cases):
        def __getattribute__(self, name: str) -> Any:
            if not trace.quiet:
                if name in _PREGNANCY_COLUMNS:
                    trace.touch()
                    trace.read.add(PREGNANCY)
                elif name in _RAW_COLUMNS:
                    trace.touch()
                    trace.read.add(_ANY)
            return object.__getattribute__(self, name)

        def _read(self, kind: str, key: str, get: Any) -> np.ndarray:
            trace.touch()
            trace.read.add((kind, key))
            trace.quiet += 1
            try:
                out: np.ndarray = get(self, key)
                return out
            finally:
                trace.quiet -= 1

        def symptom(self, key: str) -> np.ndarray:
            return self._read("symptom", key, Cases.symptom)

        def vital(self, key: str) -> np.ndarray:
            return self._read("vital", key, Cases.vital)

        def sign(self, code: str) -> np.ndarray:
            return self._read("sign", code, Cases.sign)

    empty = Cases([])
    cases = object.__new__(Recording)
    cases.__dict__.update(empty.__dict__)
    return cases


def rule_inputs() -> tuple[tuple[frozenset[Input] | None, ...], tuple[bool, ...]]:
    """For each rule of `red_flags.CODES`, the findings it reads (None: it may read any, always evaluate it), and
    whether it reads the batch's NEWS2 / qSOFA."""
    try:
        return _traced()
    except Exception:
        return tuple(None for _ in red_flags.CODES), tuple(True for _ in red_flags.CODES)


def _traced() -> tuple[tuple[frozenset[Input] | None, ...], tuple[bool, ...]]:
    trace = _Trace()
    cases = _recording_cases(trace)
    batch_scores = scores.batch_scores(cases)
    of_name: dict[str, set[Input]] = {"scores": set(trace.read)}
    trace.read.clear()

    class Recording(red_flags_batch._Batch):
        def __setattr__(self, name: str, value: Any) -> None:
            reads = set(trace.read).union(*(of_name.get(n, set()) for n in trace.names))
            of_name[name] = of_name.get(name, set()) | reads
            object.__setattr__(self, name, value)
            trace.stored = True

        def __getattribute__(self, name: str) -> Any:
            if not name.startswith("__"):
                trace.touch()
                trace.names.add(name)
            return object.__getattribute__(self, name)

    out: list[frozenset[Input] | None] = []
    uses_scores: list[bool] = []
    for code in red_flags.CODES:
        # A fresh batch per rule: what the batch computes when a rule first reads it (`cached_property`, not stored
        # through __setattr__) is then traced as that rule's own reads.
        trace.read.clear()
        trace.names.clear()
        trace.stored = False
        batch = Recording(cases, batch_scores)
        trace.read.clear()
        trace.names.clear()
        trace.stored = False
        red_flags_batch.BATCH_RULES[code](batch)
        reads = set(trace.read).union(*(of_name.get(n, set()) for n in trace.names))
        out.append(None if _ANY in reads else frozenset(reads))
        uses_scores.append("scores" in trace.names or _ANY in reads)
    return tuple(out), tuple(uses_scores)


class RuleSubsets:
    """Per finding, the rules that read it; for a request's changed findings, the rules to evaluate over the
    variants (the others answer as for the request)."""

    def __init__(self) -> None:
        inputs, uses_scores = rule_inputs()
        self.inputs = inputs
        self.always = np.array([i is None for i in inputs])
        self.reads_scores = np.array(uses_scores)
        # Bit j: rule j. A request's subset is a few integer ORs, and the same subset recurs (the same vitals are
        # left unmeasured again and again): its arrays are kept, at most `_KEPT` of them.
        self._always_bits = sum(1 << j for j, i in enumerate(inputs) if i is None)
        self._bits: dict[Input, int] = {}
        for j, reads in enumerate(inputs):
            for key in reads or ():
                self._bits[key] = self._bits.get(key, 0) | (1 << j)
        self._bits_by_kind: dict[str, dict[str, int]] = {}
        for (kind, finding), bits in self._bits.items():
            self._bits_by_kind.setdefault(kind, {})[finding] = bits
        self._made: dict[int, Subset] = {}

    def needed(self, changed: Iterable[Input]) -> np.ndarray:
        """(rules,) booleans: the rules that read any of the `changed` findings (or may read anything)."""
        return self.subset(changed).needed

    def subset(self, changed: Iterable[Input]) -> Subset:
        """What `outcomes` needs to evaluate only the rules that read a `changed` finding."""
        bits = self._always_bits
        get = self._bits.get
        for key in changed:
            bits |= get(key, 0)
        return self.of_bits(bits)

    def bits_of(self, kind: str) -> dict[str, int]:
        """Per finding of `kind` ("vital", "symptom", "sign"; "pregnancy": its one key ""), the rules reading it
        (bit j: rule j), for `of_bits`: a request's subset without a set of its changed findings."""
        return self._bits_by_kind.get(kind, {})

    def of_bits(self, bits: int) -> Subset:
        """`subset` of the rules in `bits` (bit j: rule j) and those that may read anything."""
        bits |= self._always_bits
        made = self._made.get(bits)
        if made is None:
            n = len(self.inputs)
            if n < 63:  # the bits fit one int64: unpacked in two array operations
                needed = ((bits >> np.arange(n)) & 1).astype(bool)
            else:
                needed = np.array([bool(bits >> j & 1) for j in range(n)])
            made = Subset(needed, bool((needed & self.reads_scores).any()), tuple(np.flatnonzero(~needed).tolist()))
            if len(self._made) >= _KEPT:
                self._made.clear()
            self._made[bits] = made
        return made


_KEPT = 4096


@dataclass(frozen=True, slots=True)
class Subset:
    """The rules to evaluate over the variants, whether those read NEWS2 / qSOFA, and the rules (their indices) that
    answer as for the request."""

    needed: np.ndarray
    with_scores: bool
    others: tuple[int, ...]
