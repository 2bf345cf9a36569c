"""Exact SHAP explanations for the bundle's additive logistic models, without the shap library at run time.

The models are multinomial logistic regressions over expanded columns, each column a function of one raw input
(`features.py`). For such a model the interventional SHAP value of raw input j for class k is

    phi_jk = sum over j's columns e of  W[k, e] * (x_e - mean_e)

where `mean` is the column mean over the training background. It is what `shap.LinearExplainer` computes (the
tests check it against shap, and against shap's model-agnostic permutation explainer calling the ONNX model), it
satisfies `base_value + sum(phi) == output_value` exactly, and it costs one small matrix product.

The space is the model's own score: the class's centred multinomial logit, log p_k minus the mean over classes of
log p, which is log-odds of the class against the geometric mean of all classes. The coefficients are not read from
a side file: they are recovered from the ONNX model itself by probing it with unit vectors, and the probe is checked
on random rows, so an explanation can never describe a different model from the one that answered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

SPACE = "log-odds"
LINEARITY_TOLERANCE = 1e-4


class NotAdditiveError(ValueError):
    """The model does not behave as an additive logistic model; it cannot be explained exactly here."""


@dataclass(frozen=True)
class Explanation:
    target_index: int
    base_value: float
    output_value: float
    contributions: np.ndarray  # one per raw input


@dataclass(frozen=True)
class AdditiveExplainer:
    coef: np.ndarray  # (classes, expanded columns)
    intercept: np.ndarray  # (classes,)
    background_mean: np.ndarray  # (expanded columns,)
    groups: np.ndarray  # expanded column -> raw input index
    n_raw: int

    @classmethod
    def from_scores(
        cls,
        scores: Callable[[np.ndarray], np.ndarray],
        background_mean: np.ndarray,
        groups: np.ndarray,
        n_raw: int,
        seed: int = 0,
    ) -> AdditiveExplainer:
        """Recover coefficients from `scores` (expanded float32 rows -> centred logits) and check linearity."""
        n_cols = groups.shape[0]
        probe = np.vstack([np.zeros((1, n_cols), np.float32), np.eye(n_cols, dtype=np.float32)])
        out = scores(probe).astype(np.float64)
        intercept = out[0]
        coef = (out[1:] - intercept).T
        # Check on random 0/1 rows that the model really is additive; a tree or a network would fail here.
        rows = (np.random.default_rng(seed).random((16, n_cols)) < 0.15).astype(np.float32)
        expected = rows.astype(np.float64) @ coef.T + intercept
        err = float(np.max(np.abs(scores(rows).astype(np.float64) - expected)))
        if err > LINEARITY_TOLERANCE * max(1.0, float(np.max(np.abs(expected)))):
            raise NotAdditiveError(f"model is not additive in its columns (max deviation {err:.3g})")
        return cls(coef, intercept, np.asarray(background_mean, np.float64), groups, n_raw)

    def explain(self, x: np.ndarray, target_index: int, output_value: float | None = None) -> Explanation:
        """SHAP values of every raw input for one expanded row `x` and one class.

        `output_value` is the score the model itself returned for that class; when given it is reported as is
        (the model's own output) and the additivity gap is absorbed by nothing: the tests check it is below 1e-4.
        """
        w = self.coef[target_index]
        phi = np.bincount(self.groups, weights=w * (x.astype(np.float64) - self.background_mean), minlength=self.n_raw)
        base = float(w @ self.background_mean + self.intercept[target_index])
        out = float(base + phi.sum()) if output_value is None else float(output_value)
        return Explanation(target_index, base, out, phi)

    @cached_property
    def base_values(self) -> np.ndarray:
        """`explain(...).base_value` of every class, computed exactly as `explain` does (same arithmetic, same bits)."""
        return np.array([float(self.coef[k] @ self.background_mean + self.intercept[k])
                         for k in range(self.coef.shape[0])])

    def contributions_many(self, x: np.ndarray, target_index: np.ndarray) -> np.ndarray:
        """SHAP values (rows, raw inputs) for expanded rows `x` (rows, columns), one class per row.

        One `bincount` over the whole batch, each row's columns offset into its own block of raw inputs: the sums
        are added in the same order as `explain` adds them, so every value is the same float as one row at a time.
        """
        n = x.shape[0]
        # In place on one fresh (rows x columns) array: the same products (w * (x - mean)), a third of the memory.
        deviation = x.astype(np.float64)
        deviation -= self.background_mean
        deviation *= self.coef[target_index]
        slots = (np.arange(n)[:, None] * self.n_raw + self.groups[None, :]).reshape(-1)
        phi = np.bincount(slots, weights=deviation.reshape(-1), minlength=n * self.n_raw)
        return phi.reshape(n, self.n_raw)
