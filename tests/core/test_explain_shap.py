"""Our run-time SHAP values are the ones the shap library computes for the same model.

Two independent checks: shap.LinearExplainer on the logistic coefficients (grouped per clinical input), and shap's
model-agnostic PermutationExplainer treating the shipped ONNX model as a black box over the raw clinical inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

shap = pytest.importorskip("shap")

from model_export import knowledge  # noqa: E402
from model_export.simulator import Simulator  # noqa: E402

TARGETS = {"severity": "state_model", "condition": "condition_model"}


@pytest.fixture(scope="module")
def patients(engine):
    sim = Simulator(knowledge.load())
    requests = [engine.validate(r) for r in sim.sample(300, seed=11).requests]
    return requests


@pytest.mark.parametrize("which", list(TARGETS))
def test_matches_shap_linear_explainer(engine, patients, which):
    model = getattr(engine, TARGETS[which])
    coef, intercept = model.explainer.coef, model.explainer.intercept
    mean = np.asarray(model.spec.background_mean)
    explainer = shap.LinearExplainer((coef, intercept), (mean, None))
    x = engine.features.expand(engine.features.raw_matrix(patients[:40])).astype(np.float64)
    values = np.asarray(explainer.shap_values(x))  # (rows, columns, classes) or list per class
    if values.ndim == 3 and values.shape[0] != x.shape[0]:
        values = np.moveaxis(values, 0, -1)
    responses = engine.diagnose_many(patients[:40])
    groups = engine.features.groups
    for i, response in enumerate(responses):
        e = response["explanation"][which]
        k = model.classes.index(e["target"])
        grouped = np.bincount(groups, weights=values[i, :, k], minlength=engine.features.n_raw)
        ours = np.array([e["contributions"][name] for name in engine.features.raw_names])
        np.testing.assert_allclose(ours, grouped, atol=2e-5)
        assert float(np.asarray(explainer.expected_value)[k]) == pytest.approx(e["base_value"], abs=2e-5)


@pytest.mark.parametrize("which", list(TARGETS))
def test_matches_model_agnostic_shap_on_the_onnx_model(engine, patients, which):
    """Black-box check: shap permutes raw clinical inputs against a background and calls onnxruntime."""
    model = getattr(engine, TARGETS[which])
    raw_bg = engine.features.raw_matrix(patients[100:300])
    row_requests = patients[:5]
    responses = engine.diagnose_many(row_requests)
    for request, response in zip(row_requests, responses, strict=True):
        e = response["explanation"][which]
        k = model.classes.index(e["target"])

        def score(raw: np.ndarray, k: int = k) -> np.ndarray:
            return model.scores(engine.features.expand(raw))[:, k]

        masker = shap.maskers.Independent(raw_bg, max_samples=200)
        explainer = shap.PermutationExplainer(score, masker)
        raw = engine.features.raw_vector(request).reshape(1, -1)
        got = explainer(raw, max_evals=2 * raw.shape[1] + 1, silent=True)
        # Same values as ours up to the background: ours uses the training background, shap this sample of it,
        # so compare after re-centring ours on shap's background mean.
        bg_expanded_mean = engine.features.expand(raw_bg).astype(np.float64).mean(axis=0)
        coef = model.explainer.coef[k]
        x = engine.features.expand(raw)[0].astype(np.float64)
        ours = np.bincount(engine.features.groups, weights=coef * (x - bg_expanded_mean),
                           minlength=engine.features.n_raw)
        np.testing.assert_allclose(got.values[0], ours, atol=1e-4)
        # And shap's values with its own base add up to the same model output we report.
        assert got.base_values[0] + got.values[0].sum() == pytest.approx(e["output_value"], abs=1e-4)
