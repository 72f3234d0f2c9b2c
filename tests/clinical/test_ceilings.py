"""Gate 9: every safety setting's bounds in one table, and the changes a second physician
approves (pure functions)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.clinical import gates
from ketaclinic.clinical.ceilings import (
    INFUSION_DURATION_MIN_RANGE,
    PRODUCT_CEILING_SOURCE,
    RECOVERY_MIN,
    SETTINGS,
    changes_needing_approval,
    infusion_duration_check,
    needs_second_approval,
    setting_check,
)
from ketaclinic.clinical.dosing import DEFAULT_LIMITS, DoseLimits
from ketaclinic.clinical.eligibility import EligibilityPolicy
from ketaclinic.clinical.monitoring import DISCHARGE_SOURCE, MonitoringPolicy

DEFAULTS = {name: bounds.default for name, bounds in SETTINGS.items()}


def test_the_policy_floors_and_ceilings_of_item_9() -> None:
    figures = {
        name: (SETTINGS[name].floor, SETTINGS[name].ceiling)
        for name in (
            "max_rate_mg_per_kg_h",
            "max_session_mg_per_kg",
            "max_session_mg",
            "discharge_min_aldrete",
            "discharge_min_observation_min",
            "vitals_interval_min",
            "min_age_years",
        )
    }
    assert figures == {
        "max_rate_mg_per_kg_h": (0.01, 2.0),
        "max_session_mg_per_kg": (0.01, 3.0),
        "max_session_mg": (1.0, 300.0),
        "discharge_min_aldrete": (9, 10),
        "discharge_min_observation_min": (30, 480),
        "vitals_interval_min": (5, 15),
        "min_age_years": (18, 100),
    }
    assert INFUSION_DURATION_MIN_RANGE == (10, 480)
    assert SETTINGS["max_session_mg"].source == PRODUCT_CEILING_SOURCE
    assert SETTINGS["discharge_min_aldrete"].source == DISCHARGE_SOURCE


def test_the_defaults_are_the_clinical_dataclasses_and_the_gates() -> None:
    expected: dict[str, object] = {
        **dataclasses.asdict(EligibilityPolicy()),
        **dataclasses.asdict(DoseLimits()),
        **dataclasses.asdict(MonitoringPolicy()),
        "eligibility_valid_months": gates.ELIGIBILITY_VALID_MONTHS,
        "recovery_min": RECOVERY_MIN,
        "exam_weight_max_age_days": gates.EXAM_WEIGHT_MAX_AGE_DAYS,
        "weight_change_percent": gates.WEIGHT_CHANGE_PERCENT,
        "pump_resolution_ml_h": gates.PUMP_RESOLUTION_ML_H,
        "dose_deviation_percent": gates.DOSE_DEVIATION_PERCENT,
        "draw_max_factor": gates.DRAW_MAX_FACTOR,
        "backdate_max_min": gates.BACKDATE_MAX_MIN,
    }
    assert expected == DEFAULTS


@pytest.mark.parametrize("name", list(SETTINGS))
def test_every_default_lies_within_its_bounds_and_passes_the_check(name: str) -> None:
    bounds = SETTINGS[name]
    assert bounds.name == name
    assert bounds.floor <= bounds.default <= bounds.ceiling
    assert setting_check(name, bounds.default) == bounds.default
    assert type(setting_check(name, bounds.default)) is (int if bounds.integer else float)
    assert bounds.source.strip()
    assert ".md" not in bounds.source


def test_which_settings_wait_for_a_second_physician() -> None:
    assert {n for n, b in SETTINGS.items() if b.approval == "raise"} == set(
        dataclasses.asdict(DEFAULT_LIMITS)
    )
    assert {n for n, b in SETTINGS.items() if b.approval == "change"} == {
        "alert_systolic_bp",
        "alert_diastolic_bp",
        "alert_bp_rise_percent",
        "alert_heart_rate",
        "alert_spo2",
        "alert_respiratory_rate",
        "alert_rass",
        "alert_moaas",
        "vitals_interval_min",
        "discharge_min_aldrete",
        "discharge_min_observation_min",
    }


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("max_session_mg", 300, 300.0),
        ("max_session_mg", 1, 1.0),
        ("discharge_min_aldrete", 9.0, 9),
        ("discharge_min_aldrete", 10, 10),
        ("alert_rass", -5, -5),
        ("vitals_interval_min", 15, 15),
    ],
)
def test_values_at_the_bounds_are_accepted_and_converted(
    name: str, value: float, expected: float
) -> None:
    checked = setting_check(name, value)
    assert checked == expected
    assert type(checked) is type(expected)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("max_session_mg", 300.5, "max_session_mg: must be between 1 and 300, got 300.5"),
        ("max_session_mg_per_kg", 3.1, "max_session_mg_per_kg: must be between 0.01 and 3,"),
        ("max_rate_mg_per_kg_h", 2.5, "max_rate_mg_per_kg_h: must be between 0.01 and 2, got 2.5"),
        ("max_rate_mg_per_kg_h", 0.0, "max_rate_mg_per_kg_h: must be between 0.01 and 2, got 0"),
        ("discharge_min_aldrete", 8, "discharge_min_aldrete: must be between 9 and 10, got 8"),
        ("discharge_min_observation_min", 15, "must be between 30 and 480, got 15"),
        ("vitals_interval_min", 16, "vitals_interval_min: must be between 5 and 15, got 16"),
        ("min_age_years", 17, "min_age_years: must be between 18 and 100, got 17"),
        ("alert_heart_rate", 120.5, "alert_heart_rate: expected a whole number, got 120.5"),
        ("alert_heart_rate", True, "alert_heart_rate: expected a number, got bool True"),
        ("max_session_mg", "200", "max_session_mg: expected a number, got str '200'"),
        ("max_session_mg", float("nan"), "max_session_mg: expected a number, got float nan"),
        ("max_session_mg", None, "max_session_mg: expected a number, got NoneType None"),
    ],
)
def test_values_outside_the_bounds_are_refused_naming_the_setting(
    name: str, value: object, message: str
) -> None:
    with pytest.raises(ValueError, match="^" + name) as info:
        setting_check(name, value)
    assert message in str(info.value)


@pytest.mark.parametrize("name", ["policy_version", 3, None])
def test_an_unknown_setting_is_refused(name: object) -> None:
    with pytest.raises(ValueError, match=r"^name: unknown setting"):
        setting_check(name, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^name: unknown setting"):
        needs_second_approval(name, 1, 2)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        # Raising a dose limit above its default waits; lowering or returning to it does not.
        ("max_session_mg", 200.0, 250.0, True),
        ("max_session_mg", 150.0, 200.0, False),
        ("max_session_mg", 150.0, 180.0, False),
        ("max_session_mg", 250.0, 220.0, False),
        ("max_session_mg", 220.0, 250.0, True),
        ("max_session_mg", 200.0, 200.0, False),
        ("max_rate_mg_per_kg_h", 1.0, 1.2, True),
        ("max_session_mg_per_kg", 1.5, 2.5, True),
        # Any change to a monitoring or discharge value waits, stricter or not.
        ("vitals_interval_min", 15, 10, True),
        ("alert_heart_rate", 120, 125, True),
        ("alert_spo2", 92, 93, True),
        ("discharge_min_aldrete", 9, 10, True),
        ("discharge_min_observation_min", 30, 45, True),
        ("discharge_min_observation_min", 30, 30, False),
        # The rest takes effect at once.
        ("precheck_max_systolic_bp", 160, 170, False),
        ("recovery_min", 60, 90, False),
        ("min_spo2", 94, 95, False),
    ],
)
def test_which_changes_need_a_second_physician(
    name: str, old: float, new: float, expected: bool
) -> None:
    assert needs_second_approval(name, old, new) is expected


def test_the_changes_needing_approval_come_in_table_order() -> None:
    new = {"recovery_min": 90, "vitals_interval_min": 10, "max_session_mg": 250.0}
    assert changes_needing_approval(DEFAULTS, new) == ("max_session_mg", "vitals_interval_min")
    assert changes_needing_approval(DEFAULTS, {"recovery_min": 90}) == ()
    assert changes_needing_approval(DEFAULTS, {}) == ()


def test_changes_needing_approval_refuse_unknown_or_unmatched_settings() -> None:
    with pytest.raises(ValueError, match=r"^name: unknown setting 'colour'"):
        changes_needing_approval(DEFAULTS, {"colour": 1})
    with pytest.raises(ValueError, match=r"^max_session_mg: no value in force"):
        changes_needing_approval({}, {"max_session_mg": 250.0})


@given(st.sampled_from(list(SETTINGS)), st.floats(allow_nan=False, allow_infinity=False))
def test_a_change_back_to_the_value_in_force_never_waits(name: str, value: float) -> None:
    assert needs_second_approval(name, value, value) is False


@given(
    st.sampled_from(["max_rate_mg_per_kg_h", "max_session_mg_per_kg", "max_session_mg"]),
    st.floats(min_value=0.01, max_value=300),
    st.floats(min_value=0.01, max_value=300),
)
def test_a_dose_limit_waits_exactly_when_raised_past_its_default(
    name: str, old: float, new: float
) -> None:
    default = SETTINGS[name].default
    assert needs_second_approval(name, old, new) is (new > old and new > default)


@pytest.mark.parametrize("minutes", [10, 40, 240, 480])
def test_durations_within_the_bounds_pass(minutes: int) -> None:
    assert infusion_duration_check(minutes) == minutes


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (9, "duration_min: must be between 10 and 480 minutes, got 9"),
        (481, "duration_min: must be between 10 and 480 minutes, got 481"),
        (40.0, "duration_min: expected whole minutes, got float 40.0"),
        (True, "duration_min: expected whole minutes, got bool True"),
    ],
)
def test_durations_outside_the_bounds_are_refused(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=r"^duration_min: ") as info:
        infusion_duration_check(value)
    assert str(info.value) == message
