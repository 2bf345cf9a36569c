"""A demo clinic full of synthetic patients, for training staff and trying Vereda without real records.

Every person here is invented: names drawn from lists of common Colombian given names and surnames, document
numbers that start with 9 and never repeat, villages that are generic ("Vereda El Carmen"). Each patient gets one to
three encounters whose findings follow a handful of everyday presentations (respiratory infection, dengue-like
fever, gastroenteritis, hypertension, chest pain ...), diagnosed by the real engine passed in, and closed with the
engine's top condition as the doctor-confirmed diagnosis. The engine comes in as a plain callable so this module
depends on no more of app.core than the contract it feeds.

The same generators feed the store tests, the kill -9 test's writer and bench/store.py.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.store.store import ClinicStore

GIVEN_F = ("María", "Ana", "Luz", "Carmen", "Rosa", "Marta", "Gloria", "Diana", "Paola", "Sandra", "Claudia",
           "Yolanda", "Dora", "Nubia", "Esperanza", "Yesenia", "Leidy", "Daniela", "Valentina", "Sofía", "Camila",
           "Isabel", "Lucía", "Teresa", "Mercedes", "Josefina", "Aurora", "Blanca", "Fanny", "Marleny")
GIVEN_M = ("José", "Luis", "Carlos", "Juan", "Jorge", "Pedro", "Manuel", "Jesús", "Andrés", "Diego", "Fernando",
           "Hernán", "Óscar", "Álvaro", "Édgar", "Fabio", "Héctor", "Iván", "Julián", "Miguel", "Nelson", "Rubén",
           "Santiago", "Sebastián", "Wilson", "Yeison", "Camilo", "Ángel", "Ramiro", "Arnulfo")
SURNAMES = ("Rodríguez", "Gómez", "González", "Martínez", "García", "López", "Hernández", "Sánchez", "Ramírez",
            "Pérez", "Díaz", "Muñoz", "Rojas", "Moreno", "Jiménez", "Vargas", "Castro", "Gutiérrez", "Ortiz",
            "Ruiz", "Peña", "Ospina", "Zapata", "Cárdenas", "Quintero", "Montoya", "Arango", "Osorio", "Cardona",
            "Mejía", "Restrepo", "Valencia", "Ríos", "Álvarez", "Córdoba", "Guzmán", "Suárez", "Chaparro",
            "Ibáñez", "Nuñez", "Benítez", "Londoño", "Salazar", "Gil", "Bermúdez", "Ocampo", "Henao", "Cuéllar")
VILLAGES = ("Vereda El Carmen", "Vereda La Esperanza", "Vereda San José", "Vereda El Placer", "Vereda Alto Bonito",
            "Vereda La Palma", "Vereda El Diviso", "Vereda Buenos Aires", "Casco urbano")

# Everyday presentations: symptom -> (low, high) intensity, and vitals -> (low, high).
PRESENTATIONS: tuple[tuple[dict[str, tuple[int, int]], dict[str, tuple[float, float]]], ...] = (
    ({"fiebre": (4, 8), "tos": (3, 8), "congestion_nasal": (3, 7), "dolor_garganta": (2, 7)},
     {"temperature_c": (37.6, 39.0), "heart_rate": (80, 105), "spo2": (94, 99)}),
    ({"fiebre": (7, 10), "dolor_cabeza": (5, 9), "dolor_retroocular": (5, 9), "dolor_muscular": (5, 9)},
     {"temperature_c": (38.5, 40.0), "heart_rate": (90, 120)}),
    ({"diarrea": (5, 9), "vomito": (3, 8), "dolor_abdominal": (3, 7), "nausea": (4, 8)},
     {"temperature_c": (36.8, 38.5), "heart_rate": (80, 115)}),
    ({"dolor_cabeza": (5, 9), "mareos": (3, 7), "cambios_vision": (1, 5)},
     {"systolic_bp": (150, 185), "diastolic_bp": (92, 115), "heart_rate": (70, 95)}),
    ({"dolor_pecho": (6, 10), "dificultad_respirar": (4, 9), "sudoracion": (3, 8), "nausea": (2, 6)},
     {"heart_rate": (95, 125), "systolic_bp": (100, 160), "diastolic_bp": (60, 95), "spo2": (90, 97)}),
    ({"poliuria": (4, 8), "polidipsia": (4, 8), "fatiga": (3, 7), "perdida_peso": (2, 6)},
     {"glucose_mg_dl": (220, 420), "heart_rate": (75, 100)}),
    ({"disuria": (5, 9), "frecuencia_urinaria": (5, 9), "dolor_abdominal": (2, 5)},
     {"temperature_c": (36.8, 38.2)}),
    ({"dolor_articular": (5, 9), "rigidez_matutina": (5, 9), "fatiga": (3, 6), "edema": (1, 4)},
     {"temperature_c": (36.5, 37.4)}),
    ({"tos": (6, 10), "expectoracion": (4, 8), "sudoracion_nocturna": (4, 8), "perdida_peso": (3, 7)},
     {"temperature_c": (37.4, 38.4), "respiratory_rate": (18, 26)}),
)


@dataclass(frozen=True)
class SyntheticPatient:
    given_names: str
    family_names: str
    sex: str
    birth_date: dt.date
    document_type: str
    document_number: str
    village: str
    phone: str


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def synthetic_patients(rng: random.Random, count: int, first_document: int = 900_000_000) -> Iterator[
        SyntheticPatient]:
    today = dt.date.today()
    for i in range(count):
        sex = rng.choice("FM")
        given_pool = GIVEN_F if sex == "F" else GIVEN_M
        given = rng.choice(given_pool) if rng.random() < 0.6 else " ".join(rng.sample(given_pool, 2))
        family = " ".join(rng.sample(SURNAMES, 2))
        birth = today - dt.timedelta(days=rng.randint(30, 88 * 365))
        age = age_on(birth, today)
        doc_type = "RC" if age < 7 else "TI" if age < 18 else "CC"
        yield SyntheticPatient(
            given_names=given, family_names=family, sex=sex, birth_date=birth, document_type=doc_type,
            document_number=str(first_document + i), village=rng.choice(VILLAGES),
            phone=f"3{rng.randint(100_000_000, 209_999_999)}",
        )


def synthetic_request(rng: random.Random, patient: SyntheticPatient) -> dict[str, Any]:
    symptoms_profile, vitals_profile = rng.choice(PRESENTATIONS)
    symptoms = {k: rng.randint(lo, hi) for k, (lo, hi) in symptoms_profile.items()}
    vitals: dict[str, float] = {}
    for key, (lo, hi) in vitals_profile.items():
        value = rng.uniform(lo, hi)
        vitals[key] = round(value, 1) if key == "temperature_c" else float(round(value))
    if "systolic_bp" in vitals and "diastolic_bp" in vitals and vitals["diastolic_bp"] >= vitals["systolic_bp"]:
        vitals["diastolic_bp"] = vitals["systolic_bp"] - 30
    return {
        "age": float(max(0, age_on(patient.birth_date, dt.date.today()))),
        "sex": patient.sex,
        "duration_days": float(rng.choice((1, 2, 3, 5, 7, 14, 30, 90))),
        "symptoms": symptoms,
        "vitals": vitals,
    }


def generate_passphrase(rng: random.SystemRandom | None = None) -> str:
    """A passphrase that is easy to read aloud in a training session: four groups of four letters and digits."""
    rng = rng or random.SystemRandom()
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(rng.choice(alphabet) for _ in range(4)) for _ in range(4))


def populate(store: ClinicStore, diagnose: Callable[[dict[str, Any]], Mapping[str, Any]], patients: int,
             seed: int | None = None) -> tuple[int, int]:
    """Add `patients` synthetic patients with 1–3 closed encounters each to an unlocked store whose user is a
    doctor. Returns (patients, encounters)."""
    rng = random.Random(seed)
    encounters = 0
    for person in synthetic_patients(rng, patients):
        patient = store.patients.add(given_names=person.given_names, family_names=person.family_names,
                                     sex=person.sex, birth_date=person.birth_date,
                                     document_type=person.document_type, document_number=person.document_number,
                                     village=person.village, phone=person.phone)
        for _ in range(rng.randint(1, 3)):
            request = synthetic_request(rng, person)
            response = diagnose(request)
            store.encounters.record(patient.id, request=request, response=response,
                                    final_code=response["top_conditions"][0]["code"],
                                    notes="Paciente sintético de demostración.")
            encounters += 1
    return patients, encounters
