"""skl2onnx export: onnxruntime gives scikit-learn's probabilities within 1e-5 on 10,000 simulated patients."""

from __future__ import annotations

import numpy as np
import pytest

from model_export import knowledge
from model_export.export import PARITY_TOLERANCE, onnx_probabilities, parity, to_onnx
from model_export.simulator import Simulator
from model_export.train import center, default_schema, make_dataset


@pytest.mark.filterwarnings("ignore:lbfgs failed to converge")  # parity, not fit quality, is tested here
def test_onnx_parity_on_10000_patients():
    from sklearn.linear_model import LogisticRegression

    kb = knowledge.load()
    vocabulary = kb.vocabulary()
    schema = default_schema(vocabulary)
    sim = Simulator(kb)
    train = make_dataset(sim.sample(4000, seed=21), vocabulary, schema)
    test = make_dataset(sim.sample(10_000, seed=22), vocabulary, schema)
    for target in ("condition", "state"):
        model = LogisticRegression(max_iter=300).fit(train.expanded, getattr(train, target))
        center(model)
        onnx_bytes = to_onnx(model, schema.n_expanded)
        diff = parity(model, onnx_bytes, test.expanded)
        assert diff <= PARITY_TOLERANCE, (target, diff)
        # and the comparison is not vacuous: the probabilities are far from uniform
        p = onnx_probabilities(onnx_bytes, test.expanded)
        assert p.shape == (10_000, len(model.classes_)) and float(np.mean(p.max(axis=1))) > 0.5
