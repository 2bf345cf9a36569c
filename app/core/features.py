"""From a validated request to the numbers the models read.

Two steps. `raw_vector` turns a request into one number per clinical input (age, sex, duration, each symptom's
intensity, each vital, NaN when not measured). `FeatureSchema.expand` turns each raw input into a few columns: a
one-hot of clinically chosen bands (fever bands, SpO2 bands, intensity bands), an optional linear term and a "not
measured" column. Each expanded column depends on exactly one raw input, so the models are additive in the raw
inputs and their SHAP values per input are exact and cheap (see `explain.py`). The schema, including the bands,
travels in the bundle's manifest: the bundle that trained on it is the one that decides it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from app.core.contract import DiagnoseRequest


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One raw clinical input and how it is expanded."""

    name: str  # "age", "sex", "duration_days", a symptom key or a vital key
    kind: str  # "age" | "sex" | "duration" | "symptom" | "vital"
    cuts: tuple[float, ...]  # band edges; a value equal to an edge falls in the upper band
    linear_scale: float | None = None  # add a column x / scale
    missing: bool = False  # add a "not measured" column

    @property
    def width(self) -> int:
        return len(self.cuts) + 1 + (self.linear_scale is not None) + self.missing

    def column_names(self) -> list[str]:
        edges = [-np.inf, *self.cuts, np.inf]
        names = [f"{self.name}[{_fmt(lo)},{_fmt(hi)})" for lo, hi in pairwise(edges)]
        if self.linear_scale is not None:
            names.append(f"{self.name}/{_fmt(self.linear_scale)}")
        if self.missing:
            names.append(f"{self.name}=missing")
        return names

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "cuts": list(self.cuts),
                "linear_scale": self.linear_scale, "missing": self.missing}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureSpec:
        return cls(data["name"], data["kind"], tuple(float(c) for c in data["cuts"]),
                   None if data["linear_scale"] is None else float(data["linear_scale"]), bool(data["missing"]))


def _fmt(x: float) -> str:
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return str(int(x)) if float(x).is_integer() else str(x)


@dataclass(frozen=True)
class FeatureSchema:
    specs: tuple[FeatureSpec, ...]
    groups: np.ndarray = field(init=False, repr=False, compare=False)  # expanded column -> raw input index

    def __post_init__(self) -> None:
        groups = np.concatenate([np.full(s.width, j, dtype=np.int64) for j, s in enumerate(self.specs)])
        object.__setattr__(self, "groups", groups)

    @property
    def raw_names(self) -> list[str]:
        return [s.name for s in self.specs]

    @property
    def expanded_names(self) -> list[str]:
        return [name for s in self.specs for name in s.column_names()]

    @property
    def n_raw(self) -> int:
        return len(self.specs)

    @property
    def n_expanded(self) -> int:
        return int(self.groups.shape[0])

    def raw_vector(self, request: DiagnoseRequest) -> np.ndarray:
        """One row of raw inputs for `request`; NaN where a vital or the duration was not given."""
        row = np.empty(self.n_raw, dtype=np.float64)
        for j, spec in enumerate(self.specs):
            if spec.kind == "age":
                row[j] = request.age
            elif spec.kind == "sex":
                row[j] = 1.0 if request.sex == "F" else 0.0
            elif spec.kind == "duration":
                row[j] = np.nan if request.duration_days is None else request.duration_days
            elif spec.kind == "symptom":
                row[j] = request.symptoms.get(spec.name, 0)
            elif spec.kind == "vital":
                row[j] = request.vitals.get(spec.name, np.nan)
            else:  # pragma: no cover - a bundle from a newer format
                raise ValueError(f"unknown feature kind {spec.kind!r}")
        return row

    def raw_matrix(self, requests: Sequence[DiagnoseRequest]) -> np.ndarray:
        return np.vstack([self.raw_vector(r) for r in requests]) if requests else np.empty((0, self.n_raw))

    def expand(self, raw: np.ndarray) -> np.ndarray:
        """Expanded float32 matrix (n, n_expanded) for raw rows (n, n_raw), as the ONNX models take it."""
        raw = np.atleast_2d(raw)
        out = np.zeros((raw.shape[0], self.n_expanded), dtype=np.float32)
        col = 0
        for j, spec in enumerate(self.specs):
            x = raw[:, j]
            missing = np.isnan(x)
            present = ~missing
            band = np.searchsorted(np.asarray(spec.cuts), x[present], side="right")
            out[np.flatnonzero(present), col + band] = 1.0
            col += len(spec.cuts) + 1
            if spec.linear_scale is not None:
                out[present, col] = x[present] / spec.linear_scale
                col += 1
            if spec.missing:
                out[missing, col] = 1.0
                col += 1
            elif missing.any():
                raise ValueError(f"{spec.name} is required by the model but missing")
        return out

    def to_json(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.specs]

    @classmethod
    def from_json(cls, data: list[dict[str, Any]]) -> FeatureSchema:
        return cls(tuple(FeatureSpec.from_json(d) for d in data))
