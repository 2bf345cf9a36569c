"""The origin document's rule service, for bench/predict_http.py: a Flask app answering POST /predict with
hand-written rules.

The origin document (Taller #3) serves its diagnosis from `src/app.py` (Flask) calling a rule function in
`src/model.py`: at least three symptoms with intensities 0-10 in, one of five states and an immediate-attention
flag out, no model. This file reproduces that service closely enough to be an honest anchor for the HTTP cost of a
diagnosis (parse the JSON, check it, a handful of rules, answer JSON); its rules give the origin document's five
example cases their expected states. Run under gunicorn with 2 workers:

    gunicorn -w 2 -b 127.0.0.1:8001 --chdir bench/anchors anchor_rules:app
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request

app = Flask(__name__)

STATES = ("NO_ENFERMO", "MOLESTIAS_LEVES", "ENFERMEDAD_LEVE", "ENFERMEDAD_CRONICA", "ENFERMEDAD_AGUDA")


def diagnose(symptoms: dict[str, int]) -> tuple[str, bool]:
    """The origin document's rule function: a state from the symptoms' intensities, and the attention flag."""
    s = {k.lower(): v for k, v in symptoms.items()}
    total, worst = sum(s.values()), max(s.values())
    if total <= 5:
        state = "NO_ENFERMO"
    elif worst >= 10 and total >= 28:
        state = "ENFERMEDAD_CRONICA"
    elif s.get("dolor_pecho", 0) >= 7 and s.get("dificultad_respirar", 0) >= 9:
        state = "ENFERMEDAD_AGUDA"
    elif total <= 12:
        state = "MOLESTIAS_LEVES"
    else:
        state = "ENFERMEDAD_LEVE"
    attention = state in ("ENFERMEDAD_AGUDA", "ENFERMEDAD_CRONICA") or s.get("dolor_pecho", 0) >= 8 \
        or s.get("dificultad_respirar", 0) >= 9
    return state, attention


@app.post("/predict")
def predict() -> Any:
    data = request.get_json(force=True, silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("symptoms"), dict):
        return jsonify({"error": "se requiere un objeto con 'symptoms'"}), 400
    symptoms = data["symptoms"]
    if len(symptoms) < 3 or not all(isinstance(v, int) and 0 <= v <= 10 for v in symptoms.values()):
        return jsonify({"error": "se requieren al menos 3 síntomas con intensidad de 0 a 10"}), 400
    state, attention = diagnose(symptoms)
    return jsonify({"diagnostico": state, "requiere_atencion_inmediata": attention})
