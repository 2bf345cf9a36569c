"""Ages from birth dates: exact for young infants, calendar years after, None (never a guess) when unknown."""

from __future__ import annotations

import datetime as dt

import pytest

from app.core.age import age_in_years, format_age, natural_unit, to_years

TODAY = dt.date(2026, 11, 30)


def test_a_newborn_has_a_small_age_not_zero_or_none() -> None:
    assert age_in_years(TODAY, TODAY) == 0.0  # born today: a valid age
    five_days = age_in_years(TODAY - dt.timedelta(days=5), TODAY)
    assert five_days == pytest.approx(0.0137, abs=1e-4)
    assert natural_unit(five_days) == (5.0, "days")
    assert format_age(five_days, "es") == "5 d"


def test_years_count_the_birthday_itself() -> None:
    assert age_in_years(dt.date(1996, 11, 30), TODAY) == 30.0
    assert age_in_years(dt.date(1996, 12, 1), TODAY) == 29.0
    assert age_in_years(dt.date(2000, 2, 29), dt.date(2026, 2, 28)) == 25.0
    assert age_in_years(dt.date(2000, 2, 29), dt.date(2026, 3, 1)) == 26.0


def test_unknown_birth_date_is_unknown_age() -> None:
    assert age_in_years(None, TODAY) is None
    assert format_age(None) == ""


def test_typed_units_convert_to_contract_years() -> None:
    assert to_years(5, "days") == pytest.approx(5 / 365.25, abs=1e-4)
    assert to_years(6, "months") == 0.5
    assert to_years(42, "years") == 42.0
    assert natural_unit(0.5) == (6.0, "months")
    with pytest.raises(ValueError):
        to_years(1, "weeks")
    with pytest.raises(ValueError):
        age_in_years(TODAY + dt.timedelta(days=1), TODAY)
