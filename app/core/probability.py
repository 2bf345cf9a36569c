"""Class probabilities from the models' scores (numpy only): shared by the engine and next_findings."""

from __future__ import annotations

import numpy as np


def softmax(z: np.ndarray) -> np.ndarray:
    """Probabilities over the last axis; shifted by the row maximum so that large scores cannot overflow."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    p: np.ndarray = e / e.sum(axis=-1, keepdims=True)
    return p
