"""A patient's age: exact years from a birth date, and the unit a clinician reads it in.

The contract takes age in years as a number, and 0 is a valid age: a newborn of 5 days is 0.0137 years, which is
what the danger-sign rules for young infants need. Nothing here treats 0 as "missing"; a patient whose birth date
is unknown has age `None`, and the screens ask for it instead of guessing.
"""

from __future__ import annotations

import datetime as dt

DAYS_PER_YEAR = 365.25
AGE_RANGE = (0.0, 120.0)  # the ages in years the diagnose contract accepts
UNITS = ("years", "months", "days")


def whole_years(birth: dt.date, today: dt.date) -> int:
    """Completed years on `today`, counting the birthday itself (a child born on 29 February has hers on 1 March)."""
    years = today.year - birth.year
    if (today.month, today.day) < (birth.month, birth.day):
        years -= 1
    return years


def age_in_years(birth: dt.date | None, today: dt.date | None = None) -> float | None:
    """Age in years for the diagnose contract, or None when the birth date is unknown.

    Under two years the age is exact to the day (days / 365.25), because a week matters in a young infant; from two
    years on it is the completed years as a clinician counts them, so a patient is 30 on her 30th birthday.
    """
    if birth is None:
        return None
    today = today or dt.date.today()
    days = (today - birth).days
    if days < 0:
        raise ValueError("the birth date is after today")
    if days < 2 * DAYS_PER_YEAR:
        return round(days / DAYS_PER_YEAR, 4)
    return float(whole_years(birth, today))


def to_years(value: float, unit: str) -> float:
    """An age typed in days, months or years, as contract years (4 decimals: about an hour's precision)."""
    if unit == "days":
        return round(value / DAYS_PER_YEAR, 4)
    if unit == "months":
        return round(value / 12.0, 4)
    if unit == "years":
        return float(value)
    raise ValueError(f"unknown age unit {unit!r}")


def natural_unit(years: float) -> tuple[float, str]:
    """The way a clinician states an age: days in the first month, months until two years, then years."""
    days = years * DAYS_PER_YEAR
    if days < 31:
        return float(round(days)), "days"
    if years < 2:
        return round(years * 12.0, 1), "months"
    return round(years, 1), "years"


def format_age(years: float | None, lang: str = "es") -> str:
    """Short text for lists and letters: "5 d", "7 m", "42 a" (es) or "5 d", "7 mo", "42 y" (en); "" if unknown."""
    if years is None:
        return ""
    value, unit = natural_unit(years)
    suffix = {"es": {"days": "d", "months": "m", "years": "a"},
              "en": {"days": "d", "months": "mo", "years": "y"}}[lang][unit]
    return f"{value:g} {suffix}"
