"""What to do next, per state, in the doctor's two languages.

Starting point: the origin document's five states and their meaning (ENFERMEDAD AGUDA "requiere atención
inmediata", ENFERMEDAD CRÓNICA "requiere tratamiento continuo"). The wording is general primary-care practice; it
advises, it does not prescribe.
"""

from __future__ import annotations

RECOMMENDATIONS: dict[str, dict[str, list[str]]] = {
    "NO_ENFERMO": {
        "es": [
            "Sin indicios de enfermedad. Dar consejos de salud y controles de rutina.",
            "Indicar que regrese si aparecen síntomas nuevos o empeoran los actuales.",
        ],
        "en": [
            "No sign of illness. Give health advice and routine check-ups.",
            "Ask the patient to come back if new symptoms appear or the current ones get worse.",
        ],
    },
    "MOLESTIAS_LEVES": {
        "es": [
            "Molestias leves: manejo sintomático, hidratación y reposo.",
            "Control en 48–72 horas si no mejora; regresar antes si empeora.",
        ],
        "en": [
            "Minor complaints: symptomatic care, fluids and rest.",
            "Review in 48–72 hours if not better; come back sooner if worse.",
        ],
    },
    "ENFERMEDAD_LEVE": {
        "es": [
            "Enfermedad leve: tratar según la causa probable y observar la evolución.",
            "Explicar los signos de alarma y citar a control en 24–48 horas.",
            "Considerar pruebas de laboratorio disponibles para confirmar la causa.",
        ],
        "en": [
            "Mild illness: treat the likely cause and watch how it evolves.",
            "Explain the warning signs and review in 24–48 hours.",
            "Consider available laboratory tests to confirm the cause.",
        ],
    },
    "ENFERMEDAD_CRONICA": {
        "es": [
            "Enfermedad crónica: iniciar o ajustar el tratamiento continuo y el seguimiento periódico.",
            "Revisar adherencia, complicaciones y factores de riesgo; programar controles.",
            "Remitir a especialista si no hay control o se sospecha daño de órgano.",
        ],
        "en": [
            "Chronic illness: start or adjust ongoing treatment and regular follow-up.",
            "Review adherence, complications and risk factors; schedule check-ups.",
            "Refer to a specialist if not controlled or if organ damage is suspected.",
        ],
    },
    "ENFERMEDAD_AGUDA": {
        "es": [
            "Enfermedad aguda: requiere atención inmediata.",
            "Estabilizar (vía aérea, respiración, circulación) y vigilar signos vitales.",
            "Remitir de urgencia al nivel de mayor complejidad si no se puede manejar aquí.",
        ],
        "en": [
            "Acute illness: needs immediate attention.",
            "Stabilise (airway, breathing, circulation) and monitor vital signs.",
            "Refer urgently to a higher level of care if it cannot be managed here.",
        ],
    },
}

ATTENTION = {
    "es": "Atención inmediata: revisar las señales de alarma indicadas arriba antes de cualquier otra decisión.",
    "en": "Immediate attention: review the red flags listed above before any other decision.",
}
PRIORITY = {
    "es": "Prioritario: valorar antes que la fila de espera y vigilar los signos vitales mientras tanto.",
    "en": "Priority: assess before the waiting queue and watch the vital signs meanwhile.",
}
RARE_DISEASE = {
    "es": "Los hallazgos coinciden con una enfermedad rara: considerar remisión a especialista.",
    "en": "The findings fit a rare disease: consider referral to a specialist.",
}


def recommendations_for(state: str, requires_attention: bool, rare_alert: bool = False,
                        priority: bool = False) -> dict[str, list[str]]:
    out = {lang: list(lines) for lang, lines in RECOMMENDATIONS[state].items()}
    if requires_attention:
        for lang in out:
            out[lang].insert(0, ATTENTION[lang])
    elif priority:
        for lang in out:
            out[lang].insert(0, PRIORITY[lang])
    if rare_alert:
        for lang in out:
            out[lang].append(RARE_DISEASE[lang])
    return out
