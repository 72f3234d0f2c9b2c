"""Dosing weight, infusion plans and hard dose limits (ketaclinic.clinical.dosing)."""

from __future__ import annotations

import math
import pickle
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ketaclinic.clinical.dosing import (
    CONCENTRATIONS_MG_PER_ML,
    CONCENTRATIONS_SOURCE,
    DEFAULT_LIMITS,
    DEVINE_SOURCE,
    DOSE_LIMITS_SOURCE,
    PUMP_ROUNDING_SOURCE,
    DoseLimitExceeded,
    DoseLimits,
    InfusionPlan,
    PumpRate,
    dosing_weight,
    infusion_plan,
    infusion_plan_for_rate,
    max_dose_mg_per_kg,
    pump_rate,
    rate_limit_check,
    session_dose_check,
)

BAD_NUMBERS = [0, -1, -0.5, math.nan, math.inf, -math.inf, True, False, "70", None]


def entered(value: float) -> Fraction:
    """The decimal a float was typed as, exactly."""
    return Fraction(Decimal(repr(value)))


def plan(**overrides: object) -> InfusionPlan:
    arguments: dict[str, object] = {
        "dose_mg_per_kg": 0.5,
        "duration_min": 40,
        "dosing_weight_kg": 70,
        "concentration_mg_per_ml": 10,
    }
    arguments.update(overrides)
    return infusion_plan(**arguments)  # type: ignore[arg-type]


# -- dosing weight -----------------------------------------------------------------------------


def test_actual_basis_is_the_measured_weight() -> None:
    assert dosing_weight(weight_kg=83.4, height_cm=170, sex="male", basis="actual") == 83.4


def test_devine_ideal_weight_for_a_man_of_180_cm() -> None:
    # 180 cm = 70.866 in; 50 + 2.3 x 10.866 = 74.99 kg
    ideal = dosing_weight(weight_kg=90, height_cm=180, sex="male", basis="ideal")
    assert ideal == pytest.approx(50 + 2.3 * (180 / 2.54 - 60), rel=1e-15)
    assert ideal == pytest.approx(74.9921, abs=1e-4)


def test_devine_ideal_weight_for_a_woman_of_165_cm() -> None:
    # 165 cm = 64.961 in; 45.5 + 2.3 x 4.961 = 56.91 kg
    ideal = dosing_weight(weight_kg=80, height_cm=165, sex="female", basis="ideal")
    assert ideal == pytest.approx(56.9094, abs=1e-4)


def test_devine_base_weights_at_five_feet() -> None:
    assert dosing_weight(weight_kg=90, height_cm=152.4, sex="male", basis="ideal") == (
        pytest.approx(50.0, abs=1e-12)
    )
    assert dosing_weight(weight_kg=90, height_cm=152.4, sex="female", basis="ideal") == (
        pytest.approx(45.5, abs=1e-12)
    )


def test_devine_line_is_extrapolated_below_five_feet() -> None:
    # 150 cm = 59.055 in: 45.5 - 2.3 x 0.945 = 43.33 kg
    ideal = dosing_weight(weight_kg=60, height_cm=150, sex="female", basis="ideal")
    assert ideal == pytest.approx(43.3268, abs=1e-4)


def test_ideal_weight_is_never_more_than_the_actual_weight() -> None:
    # Devine gives 56.9 kg at 165 cm; a 50 kg woman is dosed on 50 kg.
    assert dosing_weight(weight_kg=50, height_cm=165, sex="female", basis="ideal") == 50


def test_adjusted_weight_adds_forty_percent_of_the_excess() -> None:
    # 74.992 + 0.4 x (120 - 74.992) = 92.995 kg
    adjusted = dosing_weight(weight_kg=120, height_cm=180, sex="male", basis="adjusted")
    ideal = 50 + 2.3 * (180 / 2.54 - 60)
    assert adjusted == pytest.approx(ideal + 0.4 * (120 - ideal), rel=1e-15)
    assert adjusted == pytest.approx(92.9953, abs=1e-4)


def test_adjusted_weight_is_the_actual_weight_when_not_above_ideal() -> None:
    assert dosing_weight(weight_kg=50, height_cm=165, sex="female", basis="adjusted") == 50


@given(
    weight=st.floats(min_value=1, max_value=500),
    height=st.floats(min_value=110, max_value=272),
    sex=st.sampled_from(["female", "male"]),
)
def test_dosing_weights_are_ordered_ideal_adjusted_actual(
    weight: float, height: float, sex: str
) -> None:
    def weight_on(basis: str) -> float:
        return dosing_weight(weight_kg=weight, height_cm=height, sex=sex, basis=basis)  # type: ignore[arg-type]

    ideal, adjusted, actual = weight_on("ideal"), weight_on("adjusted"), weight_on("actual")
    assert 0 < ideal <= adjusted <= actual == weight


@pytest.mark.parametrize("value", [*BAD_NUMBERS, 500.01, 1e6])
def test_dosing_weight_refuses_an_invalid_weight_naming_it(value: object) -> None:
    with pytest.raises(ValueError, match=r"^weight_kg "):
        dosing_weight(weight_kg=value, height_cm=170, sex="male", basis="actual")  # type: ignore[arg-type]


def test_dosing_weight_accepts_the_heaviest_plausible_weight() -> None:
    assert dosing_weight(weight_kg=500, height_cm=170, sex="male", basis="actual") == 500


@pytest.mark.parametrize("value", [49.9, 272.1, 0, -170, math.nan, math.inf, True, "170", None])
def test_dosing_weight_refuses_an_implausible_height_naming_it(value: object) -> None:
    with pytest.raises(ValueError, match=r"^height_cm "):
        dosing_weight(weight_kg=70, height_cm=value, sex="male", basis="actual")  # type: ignore[arg-type]


@pytest.mark.parametrize("height", [50, 272])
def test_dosing_weight_accepts_the_height_bounds(height: float) -> None:
    assert dosing_weight(weight_kg=70, height_cm=height, sex="male", basis="actual") == 70


@pytest.mark.parametrize("basis", ["ideal", "adjusted"])
def test_devine_is_refused_where_it_reaches_zero(basis: str) -> None:
    # 60 cm: 50 + 2.3 x (23.6 - 60) = -33.7 kg, which is no weight at all
    with pytest.raises(ValueError, match=r"^height_cm 60 is too short"):
        dosing_weight(weight_kg=10, height_cm=60, sex="male", basis=basis)  # type: ignore[arg-type]


@pytest.mark.parametrize("sex", ["other", "Male", "", None, 1])
def test_dosing_weight_refuses_an_unknown_sex_naming_it(sex: object) -> None:
    with pytest.raises(ValueError, match=r"^sex must be one of female, male"):
        dosing_weight(weight_kg=70, height_cm=170, sex=sex, basis="ideal")  # type: ignore[arg-type]


@pytest.mark.parametrize("basis", ["lean", "IDEAL", "", None])
def test_dosing_weight_refuses_an_unknown_basis_naming_it(basis: object) -> None:
    with pytest.raises(ValueError, match=r"^basis must be one of actual, ideal, adjusted"):
        dosing_weight(weight_kg=70, height_cm=170, sex="male", basis=basis)  # type: ignore[arg-type]


# -- infusion plan arithmetic --------------------------------------------------------------------


def test_plan_for_half_a_mg_per_kg_over_forty_minutes() -> None:
    # Cleveland Clinic template at 70 kg from a 10 mg/mL vial
    result = plan(dose_mg_per_kg=0.5, duration_min=40, dosing_weight_kg=70)
    assert result.total_mg == 35.0
    assert result.rate_mg_per_h == 52.5
    assert result.rate_ml_per_h == 5.25
    assert result.volume_ml == 3.5


def test_plan_records_its_inputs_and_limits() -> None:
    limits = DoseLimits(max_session_mg=150)
    result = plan(dose_mg_per_kg=1.0, duration_min=120, dosing_weight_kg=80, limits=limits)
    assert result == InfusionPlan(
        total_mg=80.0,
        rate_mg_per_h=40.0,
        rate_ml_per_h=4.0,
        volume_ml=8.0,
        dose_mg_per_kg=1.0,
        rate_mg_per_kg_h=0.5,
        duration_min=120.0,
        dosing_weight_kg=80.0,
        concentration_mg_per_ml=10.0,
        limits=limits,
        rate_capped=False,
    )


def test_plan_volume_and_rate_follow_the_concentration() -> None:
    result = plan(
        dose_mg_per_kg=0.5, duration_min=40, dosing_weight_kg=70, concentration_mg_per_ml=50
    )
    assert result.volume_ml == 0.7
    assert result.rate_ml_per_h == 1.05


def test_plan_figures_are_the_entered_decimals_rounded_once() -> None:
    # In floats 0.35 x 70.3 is 24.604999999999997; the plan reports 24.605.
    result = plan(dose_mg_per_kg=0.35, duration_min=40, dosing_weight_kg=70.3)
    assert result.total_mg == 24.605
    assert result.volume_ml == 2.4605


def test_hand_built_plan_needs_only_the_contract_fields() -> None:
    built = InfusionPlan(total_mg=35, rate_mg_per_h=52.5, rate_ml_per_h=5.25, volume_ml=3.5)
    assert built.limits is None
    assert built.rate_capped is False


def test_plan_is_immutable() -> None:
    result = plan()
    with pytest.raises(AttributeError):
        result.total_mg = 1.0  # type: ignore[misc]


@given(
    dose=st.floats(min_value=0.01, max_value=2),
    duration=st.floats(min_value=1, max_value=600),
    weight=st.floats(min_value=1, max_value=500),
    concentration=st.sampled_from(CONCENTRATIONS_MG_PER_ML),
)
def test_plan_arithmetic_matches_the_contract_formulas(
    dose: float, duration: float, weight: float, concentration: float
) -> None:
    try:
        result = plan(
            dose_mg_per_kg=dose,
            duration_min=duration,
            dosing_weight_kg=weight,
            concentration_mg_per_ml=concentration,
        )
    except DoseLimitExceeded:
        return
    total = dose * weight
    rate = total / (duration / 60)
    assert result.total_mg == pytest.approx(total, rel=1e-14)
    assert result.rate_mg_per_h == pytest.approx(rate, rel=1e-14)
    assert result.rate_ml_per_h == pytest.approx(rate / concentration, rel=1e-14)
    assert result.volume_ml == pytest.approx(total / concentration, rel=1e-14)


# -- limits: at the limit is allowed, past it is refused ----------------------------------------


def test_default_limits_are_the_clinic_policy_defaults() -> None:
    assert DoseLimits() == DEFAULT_LIMITS
    assert DEFAULT_LIMITS.max_rate_mg_per_kg_h == 1.0
    assert DEFAULT_LIMITS.max_session_mg_per_kg == 2.0
    assert DEFAULT_LIMITS.max_session_mg == 200.0


def test_rate_exactly_at_the_limit_is_allowed() -> None:
    # 0.5 mg/kg over 30 min is 1.0 mg/kg/h
    result = plan(dose_mg_per_kg=0.5, duration_min=30, dosing_weight_kg=70)
    assert result.rate_mg_per_h == 70.0
    assert result.rate_mg_per_kg_h == 1.0


def test_rate_at_the_limit_is_allowed_even_where_floats_round_over_it() -> None:
    # 0.6 mg/kg over 36 min at 53.5 kg is exactly 1.0 mg/kg/h, but in floats the contract's
    # formula gives 53.50000000000001 mg/h, i.e. 1.0000000000000002 mg/kg/h.
    assert 0.6 * 53.5 / (36 / 60) / 53.5 > 1.0
    result = plan(dose_mg_per_kg=0.6, duration_min=36, dosing_weight_kg=53.5)
    assert result.rate_mg_per_kg_h == 1.0
    assert result.rate_mg_per_h == 53.5
    assert result.rate_mg_per_h / 53.5 <= 1.0


def test_rate_past_the_limit_is_refused_naming_it() -> None:
    with pytest.raises(DoseLimitExceeded, match=r"^max_rate_mg_per_kg_h exceeded") as refusal:
        plan(dose_mg_per_kg=0.5, duration_min=29.99, dosing_weight_kg=70)
    assert refusal.value.limit == "max_rate_mg_per_kg_h"
    assert refusal.value.value == pytest.approx(0.5 / (29.99 / 60))
    assert refusal.value.maximum == 1.0
    assert "is over the limit of 1.0 mg/kg/h" in str(refusal.value)


def test_a_rate_a_hair_past_the_limit_is_refused() -> None:
    with pytest.raises(DoseLimitExceeded) as refusal:
        plan(dose_mg_per_kg=1.0000000001, duration_min=60, dosing_weight_kg=70)
    assert refusal.value.limit == "max_rate_mg_per_kg_h"
    assert "1.0000000001 mg/kg/h is over the limit of 1.0 mg/kg/h" in str(refusal.value)


def test_session_mg_per_kg_exactly_at_the_limit_is_allowed() -> None:
    result = plan(dose_mg_per_kg=2.0, duration_min=120, dosing_weight_kg=70)
    assert result.total_mg == 140.0
    assert result.dose_mg_per_kg == 2.0


def test_session_mg_per_kg_past_the_limit_is_refused_naming_it() -> None:
    with pytest.raises(DoseLimitExceeded, match=r"^max_session_mg_per_kg exceeded") as refusal:
        plan(dose_mg_per_kg=2.01, duration_min=240, dosing_weight_kg=70)
    assert refusal.value.limit == "max_session_mg_per_kg"
    assert refusal.value.exceeded == (("max_session_mg_per_kg", 2.01, 2.0),)
    assert str(refusal.value) == (
        "max_session_mg_per_kg exceeded: 2.01 mg/kg is over the limit of 2.0 mg/kg"
    )


def test_session_mg_exactly_at_the_limit_is_allowed() -> None:
    result = plan(dose_mg_per_kg=2.0, duration_min=240, dosing_weight_kg=100)
    assert result.total_mg == 200.0


def test_session_mg_past_the_limit_is_refused_naming_it() -> None:
    with pytest.raises(DoseLimitExceeded, match=r"^max_session_mg exceeded") as refusal:
        plan(dose_mg_per_kg=2.0, duration_min=240, dosing_weight_kg=100.5)
    assert refusal.value.limit == "max_session_mg"
    assert str(refusal.value) == "max_session_mg exceeded: 201.0 mg is over the limit of 200.0 mg"


def test_every_limit_exceeded_is_named() -> None:
    with pytest.raises(DoseLimitExceeded) as refusal:
        plan(dose_mg_per_kg=3, duration_min=40, dosing_weight_kg=80)
    assert refusal.value.limit == "max_rate_mg_per_kg_h"
    assert refusal.value.exceeded == (
        ("max_rate_mg_per_kg_h", 4.5, 1.0),
        ("max_session_mg_per_kg", 3.0, 2.0),
        ("max_session_mg", 240.0, 200.0),
    )
    message = str(refusal.value)
    assert "max_session_mg_per_kg exceeded: 3.0 mg/kg" in message
    assert "max_session_mg exceeded: 240.0 mg" in message


def test_dose_limit_exceeded_is_a_value_error_that_survives_pickling() -> None:
    with pytest.raises(ValueError, match="max_session_mg") as refusal:
        plan(dose_mg_per_kg=2.0, duration_min=240, dosing_weight_kg=120)
    assert isinstance(refusal.value, DoseLimitExceeded)
    copy = pickle.loads(pickle.dumps(refusal.value))  # noqa: S301 - our own object
    assert copy.exceeded == refusal.value.exceeded
    assert str(copy) == str(refusal.value)


def test_dose_limit_exceeded_can_be_raised_for_one_limit() -> None:
    refusal = DoseLimitExceeded("max_session_mg", 240.0, 200.0)
    assert (refusal.limit, refusal.value, refusal.maximum) == ("max_session_mg", 240.0, 200.0)
    assert refusal.exceeded == (("max_session_mg", 240.0, 200.0),)
    assert str(refusal) == "max_session_mg exceeded: 240.0 mg is over the limit of 200.0 mg"


def test_a_clinic_may_set_stricter_limits() -> None:
    strict = DoseLimits(max_rate_mg_per_kg_h=0.5, max_session_mg_per_kg=1.0, max_session_mg=50)
    assert plan(dose_mg_per_kg=0.5, duration_min=60, dosing_weight_kg=100, limits=strict)
    with pytest.raises(DoseLimitExceeded) as refusal:
        plan(dose_mg_per_kg=0.5, duration_min=40, dosing_weight_kg=70, limits=strict)
    assert refusal.value.limit == "max_rate_mg_per_kg_h"
    with pytest.raises(DoseLimitExceeded) as refusal:
        plan(dose_mg_per_kg=0.6, duration_min=240, dosing_weight_kg=100, limits=strict)
    assert refusal.value.limit == "max_session_mg"


def test_limits_given_as_numpy_numbers_are_compared_exactly() -> None:
    limits = DoseLimits(max_session_mg=np.float64(35.0))
    assert plan(limits=limits).total_mg == 35.0
    with pytest.raises(DoseLimitExceeded, match="max_session_mg exceeded"):
        plan(dose_mg_per_kg=0.51, limits=limits)


@pytest.mark.parametrize(
    "field", ["max_rate_mg_per_kg_h", "max_session_mg_per_kg", "max_session_mg"]
)
@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_dose_limits_refuse_an_invalid_limit_naming_it(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"^{field} "):
        DoseLimits(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("limits", [None, {"max_session_mg": 200}, 200])
def test_plan_refuses_limits_that_are_not_dose_limits(limits: object) -> None:
    with pytest.raises(ValueError, match=r"^limits must be a DoseLimits"):
        plan(limits=limits)


@pytest.mark.parametrize(
    "field", ["dose_mg_per_kg", "duration_min", "dosing_weight_kg", "concentration_mg_per_ml"]
)
@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_plan_refuses_invalid_input_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"^{field} ") as refusal:
        plan(**{field: value})
    assert not isinstance(refusal.value, DoseLimitExceeded)


def test_plan_refuses_an_implausible_dosing_weight() -> None:
    with pytest.raises(ValueError, match=r"^dosing_weight_kg must be at most 500 kg"):
        plan(dosing_weight_kg=501)


@given(
    dose=st.floats(min_value=1e-3, max_value=5, allow_subnormal=False),
    duration=st.floats(min_value=1, max_value=1440),
    weight=st.floats(min_value=0.5, max_value=500),
    concentration=st.floats(min_value=0.1, max_value=100),
    max_rate=st.floats(min_value=0.05, max_value=5),
    max_per_kg=st.floats(min_value=0.05, max_value=5),
    max_mg=st.floats(min_value=1, max_value=1000),
)
def test_no_plan_ever_exceeds_its_limits(
    dose: float,
    duration: float,
    weight: float,
    concentration: float,
    max_rate: float,
    max_per_kg: float,
    max_mg: float,
) -> None:
    limits = DoseLimits(
        max_rate_mg_per_kg_h=max_rate, max_session_mg_per_kg=max_per_kg, max_session_mg=max_mg
    )
    try:
        result = infusion_plan(
            dose_mg_per_kg=dose,
            duration_min=duration,
            dosing_weight_kg=weight,
            concentration_mg_per_ml=concentration,
            limits=limits,
        )
    except DoseLimitExceeded as refusal:
        # A refusal is never spurious: each limit it names really is exceeded.
        for _limit, value, maximum in refusal.exceeded:
            assert value > maximum or value == pytest.approx(maximum, rel=1e-15)
        return
    assert result.total_mg <= max_mg
    assert result.dose_mg_per_kg is not None
    assert result.rate_mg_per_kg_h is not None
    assert result.dose_mg_per_kg <= max_per_kg
    assert result.rate_mg_per_kg_h <= max_rate
    # Recomputed from the reported figures, at most one rounding step over.
    tolerance = 1 + 4 * np.finfo(float).eps
    assert result.total_mg / weight <= max_per_kg * tolerance
    assert result.rate_mg_per_h / weight <= max_rate * tolerance
    assert result.total_mg / (duration / 60) <= max_rate * weight * tolerance**2
    # And in exact arithmetic on the decimals as entered, none is over.
    assert entered(dose) <= entered(max_per_kg)
    assert entered(dose) * entered(weight) <= entered(max_mg)
    assert entered(dose) * 60 / entered(duration) <= entered(max_rate)


# -- rate-based template with a protocol cap --------------------------------------------------


def test_rate_based_plan_for_the_schwartzman_template_below_the_cap() -> None:
    # 0.35 mg/kg/h x 70 kg = 24.5 mg/h, under the 25 mg/h cap; 4 h gives 98 mg
    result = infusion_plan_for_rate(
        rate_mg_per_kg_h=0.35,
        duration_min=240,
        dosing_weight_kg=70,
        concentration_mg_per_ml=10,
        rate_cap_mg_per_h=25,
    )
    assert result.rate_mg_per_h == 24.5
    assert result.total_mg == 98.0
    assert result.rate_ml_per_h == 2.45
    assert result.dose_mg_per_kg == 1.4
    assert result.rate_capped is False


def test_rate_based_plan_runs_at_the_cap_and_says_so() -> None:
    # 0.35 x 80 = 28 mg/h is over the 25 mg/h cap
    result = infusion_plan_for_rate(
        rate_mg_per_kg_h=0.35,
        duration_min=240,
        dosing_weight_kg=80,
        concentration_mg_per_ml=10,
        rate_cap_mg_per_h=25,
    )
    assert result.rate_mg_per_h == 25.0
    assert result.total_mg == 100.0
    assert result.rate_mg_per_kg_h == 0.3125
    assert result.rate_capped is True


def test_rate_based_plan_without_a_cap_still_obeys_clinic_limits() -> None:
    with pytest.raises(DoseLimitExceeded) as refusal:
        infusion_plan_for_rate(
            rate_mg_per_kg_h=0.6, duration_min=240, dosing_weight_kg=70, concentration_mg_per_ml=10
        )
    assert refusal.value.limit == "max_session_mg_per_kg"


@pytest.mark.parametrize(
    "field",
    [
        "rate_mg_per_kg_h",
        "duration_min",
        "dosing_weight_kg",
        "concentration_mg_per_ml",
        "rate_cap_mg_per_h",
    ],
)
@pytest.mark.parametrize("value", [0, -1, math.nan, True])
def test_rate_based_plan_refuses_invalid_input_naming_the_field(field: str, value: object) -> None:
    arguments: dict[str, object] = {
        "rate_mg_per_kg_h": 0.35,
        "duration_min": 240,
        "dosing_weight_kg": 70,
        "concentration_mg_per_ml": 10,
        "rate_cap_mg_per_h": 25,
        field: value,
    }
    with pytest.raises(ValueError, match=rf"^{field} "):
        infusion_plan_for_rate(**arguments)  # type: ignore[arg-type]


# -- checks used while charting -----------------------------------------------------------------


def test_rate_change_at_the_limit_is_allowed() -> None:
    rate_limit_check(rate_mg_per_h=70, dosing_weight_kg=70, limits=DoseLimits())
    rate_limit_check(rate_mg_per_h=0, dosing_weight_kg=70)


def test_rate_change_past_the_limit_is_refused_naming_it() -> None:
    with pytest.raises(DoseLimitExceeded, match=r"^max_rate_mg_per_kg_h exceeded") as refusal:
        rate_limit_check(rate_mg_per_h=70.1, dosing_weight_kg=70)
    assert refusal.value.limit == "max_rate_mg_per_kg_h"
    assert refusal.value.value == pytest.approx(70.1 / 70)


def test_rate_change_is_checked_against_the_clinic_limits() -> None:
    with pytest.raises(DoseLimitExceeded):
        rate_limit_check(
            rate_mg_per_h=40, dosing_weight_kg=70, limits=DoseLimits(max_rate_mg_per_kg_h=0.5)
        )


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"rate_mg_per_h": -1, "dosing_weight_kg": 70}, "rate_mg_per_h"),
        ({"rate_mg_per_h": math.nan, "dosing_weight_kg": 70}, "rate_mg_per_h"),
        ({"rate_mg_per_h": True, "dosing_weight_kg": 70}, "rate_mg_per_h"),
        ({"rate_mg_per_h": 10, "dosing_weight_kg": 0}, "dosing_weight_kg"),
        ({"rate_mg_per_h": 10, "dosing_weight_kg": 70, "limits": None}, "limits"),
    ],
)
def test_rate_check_refuses_invalid_input_naming_the_field(
    arguments: dict[str, object], field: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{field} "):
        rate_limit_check(**arguments)  # type: ignore[arg-type]


def test_session_total_at_the_limits_is_allowed() -> None:
    session_dose_check(total_mg=140, dosing_weight_kg=70)
    session_dose_check(total_mg=200, dosing_weight_kg=120)
    session_dose_check(total_mg=0, dosing_weight_kg=70, limits=DoseLimits())


def test_session_total_past_a_limit_is_refused_naming_it() -> None:
    with pytest.raises(DoseLimitExceeded) as refusal:
        session_dose_check(total_mg=140.5, dosing_weight_kg=70)
    assert refusal.value.limit == "max_session_mg_per_kg"
    with pytest.raises(DoseLimitExceeded) as refusal:
        session_dose_check(total_mg=200.5, dosing_weight_kg=120)
    assert refusal.value.limit == "max_session_mg"


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"total_mg": -1, "dosing_weight_kg": 70}, "total_mg"),
        ({"total_mg": math.inf, "dosing_weight_kg": 70}, "total_mg"),
        ({"total_mg": 10, "dosing_weight_kg": math.nan}, "dosing_weight_kg"),
        ({"total_mg": 10, "dosing_weight_kg": 70, "limits": "strict"}, "limits"),
    ],
)
def test_session_check_refuses_invalid_input_naming_the_field(
    arguments: dict[str, object], field: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{field} "):
        session_dose_check(**arguments)  # type: ignore[arg-type]


# -- largest allowed dose, for forms ------------------------------------------------------------


def test_max_dose_is_set_by_the_rate_for_a_short_infusion() -> None:
    # 40 min at 1.0 mg/kg/h allows 2/3 mg/kg
    assert max_dose_mg_per_kg(dosing_weight_kg=70, duration_min=40) == pytest.approx(2 / 3)


def test_max_dose_is_set_by_the_mg_per_kg_limit_for_a_long_infusion() -> None:
    assert max_dose_mg_per_kg(dosing_weight_kg=70, duration_min=240) == 2.0


def test_max_dose_is_set_by_the_mg_limit_for_a_heavy_patient() -> None:
    largest = max_dose_mg_per_kg(dosing_weight_kg=120, duration_min=240, limits=DoseLimits())
    assert largest == pytest.approx(200 / 120)
    # 200/120 rounds up to 1.6666666666666667 in floats, which would give 200.00000000000003 mg:
    # the helper steps down to the largest float the plan accepts.
    assert largest == math.nextafter(200 / 120, 0)


@given(
    weight=st.floats(min_value=0.5, max_value=500),
    duration=st.floats(min_value=0.5, max_value=1440),
    max_rate=st.floats(min_value=0.05, max_value=5),
    max_per_kg=st.floats(min_value=0.05, max_value=5),
    max_mg=st.floats(min_value=1, max_value=1000),
)
def test_max_dose_is_accepted_and_anything_above_it_is_refused(
    weight: float, duration: float, max_rate: float, max_per_kg: float, max_mg: float
) -> None:
    limits = DoseLimits(
        max_rate_mg_per_kg_h=max_rate, max_session_mg_per_kg=max_per_kg, max_session_mg=max_mg
    )
    largest = max_dose_mg_per_kg(dosing_weight_kg=weight, duration_min=duration, limits=limits)
    arguments = {
        "duration_min": duration,
        "dosing_weight_kg": weight,
        "concentration_mg_per_ml": 10,
        "limits": limits,
    }
    infusion_plan(dose_mg_per_kg=largest, **arguments)  # type: ignore[arg-type]
    above = math.nextafter(largest, math.inf)
    assume(entered(above) > entered(largest))
    with pytest.raises(DoseLimitExceeded):
        infusion_plan(dose_mg_per_kg=above * (1 + 1e-12), **arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"dosing_weight_kg": 0, "duration_min": 40}, "dosing_weight_kg"),
        ({"dosing_weight_kg": 70, "duration_min": 0}, "duration_min"),
        ({"dosing_weight_kg": 70, "duration_min": 40, "limits": None}, "limits"),
    ],
)
def test_max_dose_refuses_invalid_input_naming_the_field(
    arguments: dict[str, object], field: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{field} "):
        max_dose_mg_per_kg(**arguments)  # type: ignore[arg-type]


# -- constants and sources ----------------------------------------------------------------------


def test_concentrations_on_hand_are_the_labelled_strengths() -> None:
    assert CONCENTRATIONS_MG_PER_ML == (10.0, 50.0, 100.0)
    assert "openFDA NDC" in CONCENTRATIONS_SOURCE
    assert "base" in CONCENTRATIONS_SOURCE


def test_every_formula_names_its_source() -> None:
    assert "Devine BJ" in DEVINE_SOURCE
    assert "1974" in DEVINE_SOURCE
    assert "ketaclinic clinic policy defaults" in DOSE_LIMITS_SOURCE
    assert "Cohen SP et al. Reg Anesth Pain Med 2018" in DOSE_LIMITS_SOURCE
    assert "Schwenk ES et al. Reg Anesth Pain Med 2018" in DOSE_LIMITS_SOURCE


# -- the pump's setting ------------------------------------------------------------------------


def test_pump_rate_rounds_down_to_the_step_and_says_what_it_delivers() -> None:
    # 52.5 mg/h at 10 mg/mL = 5.25 mL/h; down to 0.1 mL/h: 5.2 mL/h = 52 mg/h.
    assert pump_rate(rate_mg_per_h=52.5, concentration_mg_per_ml=10, resolution_ml_h=0.1) == (
        PumpRate(rate_ml_per_h=Decimal("5.2"), rate_mg_per_h=Decimal("52.0"))
    )


def test_pump_rate_never_rounds_up_where_half_even_would() -> None:
    # 53.5 mg/h at 10 mg/mL = 5.35 mL/h: half-even gives 5.4 (54 mg/h, over the rate); down, 5.3.
    result = pump_rate(rate_mg_per_h=53.5, concentration_mg_per_ml=10, resolution_ml_h=0.1)
    assert result.rate_ml_per_h == Decimal("5.3")
    assert result.rate_mg_per_h == Decimal("53.0")


def test_pump_rate_on_a_step_is_unchanged_despite_binary_floats() -> None:
    # 0.3 / 0.1 is 2.9999999999999996 in floats; on the entered decimals it is 3 steps exactly.
    result = pump_rate(rate_mg_per_h=3.0, concentration_mg_per_ml=10, resolution_ml_h=0.1)
    assert result.rate_ml_per_h == Decimal("0.3")
    assert result.rate_mg_per_h == Decimal("3.0")


def test_pump_rate_uses_the_clinic_resolution() -> None:
    # 52.5 mg/h at 50 mg/mL = 1.05 mL/h: 1.05 at 0.01, 1.0 at 0.1, 1 at 1 mL/h.
    at = {
        r: pump_rate(rate_mg_per_h=52.5, concentration_mg_per_ml=50, resolution_ml_h=r)
        for r in (0.01, 0.1, 1.0)
    }
    assert at[0.01] == PumpRate(Decimal("1.05"), Decimal("52.50"))
    assert at[0.1] == PumpRate(Decimal("1.0"), Decimal("50.00"))
    assert at[1.0] == PumpRate(Decimal("1.0"), Decimal("50.0"))


def test_pump_rate_below_one_step_is_refused_naming_the_rate() -> None:
    with pytest.raises(ValueError, match=r"^rate_mg_per_h 0.5 mg/h is 0.05 mL/h .*below one pump"):
        pump_rate(rate_mg_per_h=0.5, concentration_mg_per_ml=10, resolution_ml_h=0.1)


@pytest.mark.parametrize("field", ["rate_mg_per_h", "concentration_mg_per_ml", "resolution_ml_h"])
@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_pump_rate_refuses_invalid_input_naming_the_field(field: str, value: object) -> None:
    arguments: dict[str, object] = {
        "rate_mg_per_h": 52.5,
        "concentration_mg_per_ml": 10,
        "resolution_ml_h": 0.1,
    }
    arguments[field] = value
    with pytest.raises(ValueError, match=rf"^{field} "):
        pump_rate(**arguments)  # type: ignore[arg-type]


def test_pump_rounding_source_says_why_down() -> None:
    assert "never runs faster" in PUMP_ROUNDING_SOURCE


@given(
    rate=st.floats(min_value=0.01, max_value=2000, allow_nan=False, allow_infinity=False),
    concentration=st.sampled_from(CONCENTRATIONS_MG_PER_ML),
    resolution=st.sampled_from([0.01, 0.05, 0.1, 0.5, 1.0]),
)
def test_pump_rate_is_a_whole_step_never_above_the_rate_and_within_one_step(
    rate: float, concentration: float, resolution: float
) -> None:
    exact_ml = entered(rate) / entered(concentration)
    assume(exact_ml >= entered(resolution))
    result = pump_rate(
        rate_mg_per_h=rate, concentration_mg_per_ml=concentration, resolution_ml_h=resolution
    )
    ml = Fraction(result.rate_ml_per_h)
    step = entered(resolution)
    assert (ml / step).denominator == 1
    assert ml <= exact_ml
    assert exact_ml - ml < step
    assert Fraction(result.rate_mg_per_h) == ml * entered(concentration)
    assert Fraction(result.rate_mg_per_h) <= entered(rate)
