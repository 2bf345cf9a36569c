"""`vereda-server drift`: has what the clinics see moved away from what the production model was trained on?

The reference population is simulated and answered by the build tools in a child process
(`python -m model_export drift-reference`, see server/mlops/build_tools.py); the statistics are computed here.

Reference ("training") distribution: patients simulated from the knowledge base with the bundle's own validation
seed, answered by the bundle's engine. Chosen over storing histograms in the manifest because it needs no change to
the signed bundle format, reproduces exactly (same knowledge base hash, same seed), and gives raw values, so any
statistic can be computed later; its cost is a few seconds of simulation at admin time. A bundle whose knowledge
hash differs from the current knowledge base is reported (the reference is then approximate).

Per feature: PSI (population stability index) and a two-sample test from scipy.stats: chi-square on intensity bins
(0, 1-3, 4-6, 7-8, 9-10; the bands of the model's INTENSITY_CUTS) for symptoms, Kolmogorov-Smirnov for age,
duration and vitals. Also prediction drift (PSI of the distribution of the model's top condition), label mix (PSI of
confirmed diagnoses against the reference's), and agreement between the model's answer and the confirmed diagnosis
against the model's accuracy on the reference.

Flag (documented thresholds): PSI > 0.2 on any key feature (the symptoms, age, duration and vitals) measured on at
least MIN_N records, or prediction PSI > 0.2, or agreement more than 10 points below the reference. p-values are
reported but do not raise the flag: with thousands of records every trivial difference is "significant".

Statistics: scipy, from the `server[mlops]` extra, imported only when a test is computed (`_scipy_stats`).
Plots: inline SVG written here. Evidently would give a
ready-made report but pulls in a large dependency tree (pandas, plotly, nltk, ...) that the central service otherwise
does not need, and matplotlib is not installed; a few bar charts in SVG are 60 lines.
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from server.mlops.feedback import feedback_request

PSI_THRESHOLD = 0.2
AGREEMENT_DROP_POINTS = 10.0
MIN_N = 100
SYMPTOM_BINS = ((0, 0), (1, 3), (4, 6), (7, 8), (9, 10))
SYMPTOM_BIN_LABELS = ("0", "1-3", "4-6", "7-8", "9-10")
REFERENCE_MAX = 5000


def psi(expected: np.ndarray, actual: np.ndarray, eps: float = 1e-4) -> float:
    """PSI of two count (or share) vectors over the same bins; empty bins are smoothed by `eps`."""
    e = np.asarray(expected, float)
    a = np.asarray(actual, float)
    e = np.clip(e / max(e.sum(), 1e-12), eps, None)
    a = np.clip(a / max(a.sum(), 1e-12), eps, None)
    e, a = e / e.sum(), a / a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


def _symptom_counts(values: np.ndarray) -> np.ndarray:
    return np.array([np.sum((values >= lo) & (values <= hi)) for lo, hi in SYMPTOM_BINS])


class MissingExtra(RuntimeError):
    """scipy is not installed: the drift report needs the `server[mlops]` extra."""


def _scipy_stats() -> Any:
    try:
        from scipy import stats
    except ImportError:
        raise MissingExtra("the drift report needs scipy: pip install 'vereda[server,mlops]'") from None
    return stats


def _chi2(ref: np.ndarray, cur: np.ndarray) -> float | None:
    chi2_contingency = _scipy_stats().chi2_contingency
    table = np.vstack([ref, cur])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or cur.sum() == 0:
        return None
    return float(chi2_contingency(table)[1])


def _continuous(ref: np.ndarray, cur: np.ndarray) -> dict[str, Any]:
    ks_2samp = _scipy_stats().ks_2samp
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if ref.size == 0 or cur.size == 0:
        return {"n": int(cur.size), "psi": None, "p_value": None, "test": "ks", "bins": [], "reference": [],
                "current": []}
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, 11)))
    inner = edges[1:-1]
    rc = np.bincount(np.searchsorted(inner, ref, side="right"), minlength=len(inner) + 1)
    cc = np.bincount(np.searchsorted(inner, cur, side="right"), minlength=len(inner) + 1)
    labels = [f"<{inner[0]:g}"] + [f"{a:g}-{b:g}" for a, b in itertools.pairwise(inner)] + \
        [f">={inner[-1]:g}"] if inner.size else ["all"]
    return {"n": int(cur.size), "psi": round(psi(rc, cc), 4), "p_value": float(ks_2samp(ref, cur).pvalue),
            "test": "ks", "bins": labels, "reference": (rc / rc.sum()).round(4).tolist(),
            "current": (cc / cc.sum()).round(4).tolist()}


def _categorical(ref: list[str], cur: list[str]) -> dict[str, Any]:
    cats = sorted(set(ref) | set(cur))
    rc = np.array([ref.count(c) for c in cats], float)
    cc = np.array([cur.count(c) for c in cats], float)
    return {"n": len(cur), "psi": round(psi(rc, cc), 4) if cur else None, "p_value": _chi2(rc, cc),
            "test": "chi2", "bins": cats, "reference": (rc / max(rc.sum(), 1)).round(4).tolist(),
            "current": (cc / max(cc.sum(), 1)).round(4).tolist()}


def _matrix(requests: list[dict[str, Any]], key: str, kind: str) -> np.ndarray:
    if kind == "symptom":
        return np.array([float(r.get("symptoms", {}).get(key, 0)) for r in requests])
    if kind == "vital":
        return np.array([float(r.get("vitals", {}).get(key, np.nan)) for r in requests])
    return np.array([np.nan if r.get(key) is None else float(r[key]) for r in requests])


def compute(feedback: list[dict[str, Any]], bundle_dir: Path, reference_n: int | None = None) -> dict[str, Any]:
    """The drift summary of `feedback` (stored payloads) against the bundle's simulated training distribution."""
    from server.mlops import build_tools

    return summarise(feedback, build_tools.drift_reference(bundle_dir, reference_n))


def summarise(feedback: list[dict[str, Any]], reference: dict[str, Any]) -> dict[str, Any]:
    """The drift summary of `feedback` against `reference` (`model_export.mlops.drift_reference`: the simulated
    requests, the bundle's top condition and the simulated condition of each, the vocabulary's symptom and vital
    keys, the seed and whether the knowledge base matches the bundle)."""
    ref_requests: list[dict[str, Any]] = reference["requests"]
    ref_top: list[str] = reference["top"]
    ref_condition = np.array(reference["condition"])
    cur_requests = [feedback_request(r) for r in feedback]

    features: dict[str, Any] = {}
    for key in reference["symptom_keys"]:
        rc, cc = _symptom_counts(_matrix(ref_requests, key, "symptom")), _symptom_counts(_matrix(cur_requests, key,
                                                                                                   "symptom"))
        features[key] = {"kind": "symptom", "n": len(cur_requests), "psi": round(psi(rc, cc), 4) if cur_requests
                         else None, "p_value": _chi2(rc, cc), "test": "chi2", "bins": list(SYMPTOM_BIN_LABELS),
                         "reference": (rc / max(rc.sum(), 1)).round(4).tolist(),
                         "current": (cc / max(cc.sum(), 1)).round(4).tolist()}
    for key in ("age", "duration_days"):
        features[key] = {"kind": key, **_continuous(_matrix(ref_requests, key, key), _matrix(cur_requests, key, key))}
    for key in reference["vital_keys"]:
        features[key] = {"kind": "vital", **_continuous(_matrix(ref_requests, key, "vital"),
                                                        _matrix(cur_requests, key, "vital"))}

    prediction = _categorical(ref_top, [r["response_summary"]["top_condition"] for r in feedback])
    labels = _categorical(list(reference["condition"]), [r["confirmed_diagnosis"] for r in feedback])
    ref_agreement = float(np.mean(np.array(ref_top) == ref_condition)) * 100
    cur_agreement = (float(np.mean([r["response_summary"]["top_condition"] == r["confirmed_diagnosis"]
                                    for r in feedback])) * 100) if feedback else None

    reasons = []
    drifted = [k for k, f in features.items() if f["psi"] is not None and f["n"] >= MIN_N and f["psi"] > PSI_THRESHOLD]
    if drifted:
        reasons.append(f"PSI > {PSI_THRESHOLD} on " + ", ".join(f"{k} ({features[k]['psi']:.2f})" for k in drifted))
    if prediction["psi"] is not None and len(feedback) >= MIN_N and prediction["psi"] > PSI_THRESHOLD:
        reasons.append(f"prediction drift: PSI of the top condition {prediction['psi']:.2f} > {PSI_THRESHOLD}")
    if cur_agreement is not None and len(feedback) >= MIN_N and ref_agreement - cur_agreement > AGREEMENT_DROP_POINTS:
        reasons.append(f"agreement with confirmed diagnoses {cur_agreement:.1f}% is "
                       f"{ref_agreement - cur_agreement:.1f} points below the reference {ref_agreement:.1f}%")
    return {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model_version": reference["model_version"],
        "reference": {"source": "simulated from the knowledge base", "seed": reference["seed"],
                      "n": len(ref_requests), "knowledge_matches_bundle": reference["knowledge_matches_bundle"]},
        "n_feedback": len(feedback),
        "thresholds": {"psi": PSI_THRESHOLD, "agreement_drop_points": AGREEMENT_DROP_POINTS, "min_n": MIN_N},
        "flag": bool(reasons),
        "reasons": reasons,
        "agreement": {"reference_percent": round(ref_agreement, 1),
                      "current_percent": None if cur_agreement is None else round(cur_agreement, 1)},
        "prediction": prediction,
        "confirmed_mix": labels,
        "features": features,
    }


# --- report -------------------------------------------------------------------------------------------------------


def _bars(title: str, bins: list[str], ref: list[float], cur: list[float]) -> str:
    """Grouped bar chart (reference grey, current orange) as inline SVG."""
    width, height, top, bottom, left = max(320, 34 * len(bins) + 60), 170, 22, 40, 36
    peak = max([*ref, *cur, 0.01])
    slot = (width - left - 10) / max(len(bins), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{html.escape(title)}"><text x="4" y="14" font-size="12">{html.escape(title)}</text>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 5}" y2="{height - bottom}" stroke="#444"/>']
    scale = (height - top - bottom) / peak
    for i, label in enumerate(bins):
        x = left + i * slot
        for j, (value, colour) in enumerate(((ref[i], "#9e9e9e"), (cur[i], "#e67e22"))):
            h = value * scale
            parts.append(f'<rect x="{x + 2 + j * (slot - 4) / 2:.1f}" y="{height - bottom - h:.1f}" '
                         f'width="{(slot - 4) / 2:.1f}" height="{h:.1f}" fill="{colour}"/>')
        parts.append(f'<text x="{x + slot / 2:.1f}" y="{height - bottom + 12}" font-size="9" text-anchor="middle" '
                     f'transform="rotate(30 {x + slot / 2:.1f} {height - bottom + 12})">{html.escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}g}" if value < 0.001 else f"{value:.{digits}f}"


def render_html(summary: dict[str, Any]) -> str:
    features = summary["features"]
    ranked = sorted(features, key=lambda k: -(features[k]["psi"] or 0))
    rows = "".join(
        f"<tr{' class=flag' if (features[k]['psi'] or 0) > PSI_THRESHOLD else ''}><td>{html.escape(k)}</td>"
        f"<td>{features[k]['kind']}</td><td>{features[k]['n']}</td><td>{_fmt(features[k]['psi'])}</td>"
        f"<td>{features[k]['test']}</td><td>{_fmt(features[k]['p_value'])}</td></tr>" for k in ranked)
    charts = "".join(_bars(f"{k} (PSI {_fmt(features[k]['psi'], 2)})", features[k]["bins"],
                           features[k]["reference"], features[k]["current"])
                     for k in ranked[:12] if features[k]["bins"])
    pred = summary["prediction"]
    mix = summary["confirmed_mix"]
    verdict = ("<p class=flag><b>Drift flagged / deriva detectada:</b> " + "<br>".join(
        html.escape(r) for r in summary["reasons"]) + "</p>") if summary["flag"] else \
        "<p><b>No drift above the thresholds / sin deriva sobre los umbrales.</b></p>"
    agreement = summary["agreement"]
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Vereda drift report</title>
<style>body{{font-family:sans-serif;margin:1.5em;max-width:1100px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 6px;font-size:13px}}.flag{{color:#b03a2e;background:#fdecea}}
svg{{margin:4px;border:1px solid #eee}}</style></head><body>
<h1>Drift report — model {html.escape(str(summary['model_version']))}</h1>
<p>{summary['n_feedback']} confirmed cases against {summary['reference']['n']} simulated reference patients
(seed {summary['reference']['seed']}; knowledge base matches bundle:
{summary['reference']['knowledge_matches_bundle']}).
Generated {summary['created']}. Grey: reference; orange: received feedback.</p>
{verdict}
<h2>Agreement and predictions</h2>
<p>Model answer = confirmed diagnosis: {agreement['current_percent']}% (reference accuracy
{agreement['reference_percent']}%). Prediction PSI {_fmt(pred['psi'])} (chi-square p {_fmt(pred['p_value'])});
confirmed-diagnosis mix PSI {_fmt(mix['psi'])}.</p>
{_bars("top condition (model)", pred["bins"], pred["reference"], pred["current"])}
{_bars("confirmed diagnosis", mix["bins"], mix["reference"], mix["current"])}
<h2>Features (most drifted first)</h2>{charts}
<table><tr><th>feature</th><th>kind</th><th>n</th><th>PSI</th><th>test</th><th>p-value</th></tr>{rows}</table>
<p>Thresholds: PSI &gt; {PSI_THRESHOLD} on a feature with n &ge; {MIN_N}; agreement drop &gt;
{AGREEMENT_DROP_POINTS} points. See docs/mlops.md.</p></body></html>
"""


def write_report(summary: dict[str, Any], out: Path) -> dict[str, str]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "drift.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (out / "drift.html").write_text(render_html(summary), encoding="utf-8")
    return {"json": str(out / "drift.json"), "html": str(out / "drift.html")}
