"""The infusion day's rules (ketaclinic.clinical.monitoring)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.clinical.administration import DOSE_REACHED_TOLERANCE_MG
from ketaclinic.clinical.dosing import DEFAULT_LIMITS, DoseLimitExceeded, DoseLimits
from ketaclinic.clinical.instruments import InvalidAnswers
from ketaclinic.clinical.monitoring import (
    ALERT_SOURCE,
    CONTROLLED_SUBSTANCE_SOURCE,
    DEFAULT_MONITORING,
    DISCHARGE_SOURCE,
    MONITORING_GATE,
    OVERRIDE_CEILING_GATE,
    PLAN_RATE_SOURCE,
    PRECHECK_SOURCE,
    VITAL_LIMITS,
    VITAL_LIMITS_SOURCE,
    VITALS_INTERVAL_SOURCE,
    VITALS_SET,
    MonitoringPolicy,
    PlannedDoseReached,
    PlanRateExceeded,
    Vitals,
    VitalsGap,
    baseline_vitals_missing,
    controlled_substance_check,
    discharge_check,
    discharge_vitals_missing,
    infused_mg,
    infusion_rate_check,
    is_ceiling,
    planned_dose_given,
    precheck,
    precheck_ceiling,
    sedation_alerts,
    vital_alerts,
    vitals_due_at,
    vitals_gaps,
    vitals_overdue,
)

UTC = dt.UTC
NOW = dt.datetime(2025, 3, 10, 15, 0, tzinfo=UTC)
GOOD = Vitals(systolic_bp=130, diastolic_bp=80, heart_rate=72, spo2=98, respiratory_rate=14)
ALDRETE_10 = {
    "activity": 2,
    "respiration": 2,
    "circulation": 2,
    "consciousness": 2,
    "oxygen_saturation": 2,
}
ALDRETE_8 = {**ALDRETE_10, "activity": 1, "consciousness": 1}
ALDRETE_9 = {**ALDRETE_10, "consciousness": 1}


def codes(findings: tuple[Any, ...]) -> list[str]:
    return [f.code for f in findings]


def checklist(**overrides: Any) -> tuple[Any, ...]:
    args: dict[str, Any] = {
        "vitals": GOOD,
        "fasting": True,
        "escort_arranged": True,
        "consent_confirmed": True,
        "plan_dose_present": True,
    }
    args.update(overrides)
    return precheck(**args)


def test_every_rule_names_a_source() -> None:
    for source in (
        ALERT_SOURCE,
        CONTROLLED_SUBSTANCE_SOURCE,
        DISCHARGE_SOURCE,
        PLAN_RATE_SOURCE,
        PRECHECK_SOURCE,
        VITALS_INTERVAL_SOURCE,
        VITAL_LIMITS_SOURCE,
    ):
        assert len(source) > 40
    assert "Cohen SP et al. 2018" in PRECHECK_SOURCE
    assert "not confirmed in a primary source" in PRECHECK_SOURCE
    assert "Aldrete JA, Kroulik D. Anesth Analg 1970" in DISCHARGE_SOURCE
    assert "Sessler CN et al." in ALERT_SOURCE


# -- Vitals ------------------------------------------------------------------------------------


def test_vitals_accept_the_edges_of_plausibility() -> None:
    low = Vitals(systolic_bp=40, diastolic_bp=20, heart_rate=20, spo2=50, respiratory_rate=2)
    high = Vitals(systolic_bp=300, diastolic_bp=200, heart_rate=250, spo2=100, respiratory_rate=80)
    assert low.spo2 == 50
    assert high.systolic_bp == 300


@pytest.mark.parametrize("field", list(VITAL_LIMITS))
@pytest.mark.parametrize("where", ["below", "above"])
def test_impossible_vitals_are_refused_naming_the_field(field: str, where: str) -> None:
    lowest, highest = VITAL_LIMITS[field]
    values: dict[str, Any] = {
        "systolic_bp": 130,
        "diastolic_bp": 80,
        "heart_rate": 70,
        "spo2": 97,
        "respiratory_rate": 14,
    }
    values[field] = lowest - 1 if where == "below" else highest + 1
    if field == "systolic_bp" and where == "below":
        values["diastolic_bp"] = 20
    with pytest.raises(ValueError, match=rf"^{field} "):
        Vitals(**values)


@pytest.mark.parametrize("bad", [True, 98.5, "98", math.nan])
def test_vitals_must_be_whole_numbers(bad: object) -> None:
    with pytest.raises(ValueError, match=r"^spo2 must be a whole number"):
        Vitals(spo2=bad)  # type: ignore[arg-type]


def test_arrhythmia_flag_must_be_a_boolean() -> None:
    with pytest.raises(ValueError, match=r"^new_arrhythmia"):
        Vitals(new_arrhythmia=1)  # type: ignore[arg-type]


def test_blood_pressure_comes_in_pairs() -> None:
    with pytest.raises(ValueError, match=r"^diastolic_bp is required"):
        Vitals(systolic_bp=120)
    with pytest.raises(ValueError, match=r"^systolic_bp is required"):
        Vitals(diastolic_bp=80)


@pytest.mark.parametrize("diastolic", [120, 121])
def test_diastolic_must_be_below_systolic(diastolic: int) -> None:
    with pytest.raises(ValueError, match=r"^diastolic_bp .* must be lower than systolic_bp"):
        Vitals(systolic_bp=120, diastolic_bp=diastolic)


def test_empty_vitals() -> None:
    assert Vitals().is_empty
    assert not Vitals(heart_rate=70).is_empty
    assert not Vitals(spo2=97).is_empty
    assert not Vitals(respiratory_rate=12).is_empty
    assert not Vitals(systolic_bp=120, diastolic_bp=80).is_empty
    assert not Vitals(new_arrhythmia=True).is_empty


def test_a_set_of_vitals_holds_every_sign_the_policy_lists() -> None:
    assert GOOD.is_set
    for name in VITALS_SET:
        values = {**dataclasses.asdict(GOOD), name: None}
        if name == "systolic_bp":
            values["diastolic_bp"] = None
        assert not Vitals(**values).is_set, name
    assert not Vitals(spo2=97).is_set
    assert not Vitals().is_set


# -- pre-infusion check ------------------------------------------------------------------------


def test_a_complete_checklist_passes() -> None:
    assert checklist() == ()


def test_precheck_thresholds_are_inclusive_for_bp_and_strict_for_hr_and_spo2() -> None:
    at_limit = Vitals(systolic_bp=160, diastolic_bp=100, heart_rate=110, spo2=94)
    found = checklist(vitals=at_limit)
    assert codes(found) == ["systolic_bp_high", "diastolic_bp_high"]
    assert found[0].field == "systolic_bp"
    assert found[0].value == 160
    assert found[0].threshold == 160
    assert found[0].source == PRECHECK_SOURCE
    assert "160" in found[0].message
    below = Vitals(systolic_bp=159, diastolic_bp=99, heart_rate=110, spo2=94)
    assert checklist(vitals=below) == ()


def test_precheck_defers_for_heart_rate_and_oxygen() -> None:
    found = checklist(vitals=Vitals(systolic_bp=120, diastolic_bp=70, heart_rate=111, spo2=93))
    assert codes(found) == ["heart_rate_high", "spo2_low"]
    assert found[1].threshold == 94


def test_every_failed_item_is_named_in_form_order() -> None:
    found = checklist(
        vitals=Vitals(systolic_bp=170, diastolic_bp=105, heart_rate=115, spo2=90),
        fasting=False,
        escort_arranged=False,
        consent_confirmed=False,
        plan_dose_present=False,
    )
    assert codes(found) == [
        "systolic_bp_high",
        "diastolic_bp_high",
        "heart_rate_high",
        "spo2_low",
        "not_fasting",
        "no_escort",
        "no_consent",
        "no_plan_dose",
    ]
    assert [f.field for f in found][4:] == [
        "fasting",
        "escort_arranged",
        "consent_confirmed",
        "plan_dose_present",
    ]


def test_precheck_uses_the_clinic_policy() -> None:
    strict = MonitoringPolicy(precheck_max_systolic_bp=140)
    found = checklist(vitals=GOOD, policy=strict)
    assert found == ()
    found = checklist(vitals=dataclasses.replace(GOOD, systolic_bp=140), policy=strict)
    assert codes(found) == ["systolic_bp_high"]


@pytest.mark.parametrize(
    ("vitals", "field"),
    [
        (Vitals(heart_rate=70, spo2=98), "systolic_bp"),
        (Vitals(systolic_bp=120, diastolic_bp=80, spo2=98), "heart_rate"),
        (Vitals(systolic_bp=120, diastolic_bp=80, heart_rate=70), "spo2"),
    ],
)
def test_precheck_needs_bp_heart_rate_and_spo2(vitals: Vitals, field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field} is required before starting"):
        checklist(vitals=vitals)


@pytest.mark.parametrize("field", ["fasting", "escort_arranged", "consent_confirmed"])
def test_precheck_answers_must_be_booleans(field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field} must be true or false"):
        checklist(**{field: 1})


def test_precheck_refuses_what_is_not_vitals_or_a_policy() -> None:
    with pytest.raises(ValueError, match=r"^vitals must be Vitals"):
        checklist(vitals={"systolic_bp": 120})
    with pytest.raises(ValueError, match=r"^policy must be a MonitoringPolicy"):
        checklist(policy={"precheck_max_systolic_bp": 150})


# -- alerts ------------------------------------------------------------------------------------


def test_normal_vitals_raise_no_alert() -> None:
    assert vital_alerts(vitals=GOOD, baseline=GOOD) == ()
    assert vital_alerts(vitals=Vitals()) == ()


def test_absolute_limits_are_strict() -> None:
    at = Vitals(systolic_bp=180, diastolic_bp=110, heart_rate=120, spo2=92, respiratory_rate=10)
    assert vital_alerts(vitals=at) == ()
    past = Vitals(systolic_bp=181, diastolic_bp=111, heart_rate=121, spo2=91, respiratory_rate=9)
    found = vital_alerts(vitals=past)
    assert codes(found) == [
        "systolic_bp_high",
        "diastolic_bp_high",
        "heart_rate_high",
        "spo2_low",
        "respiratory_rate_low",
    ]
    assert all(f.source == ALERT_SOURCE for f in found)
    assert found[0].threshold == 180
    assert "confirm it is sustained" in found[3].message


def test_a_new_arrhythmia_alerts() -> None:
    found = vital_alerts(vitals=Vitals(new_arrhythmia=True))
    assert codes(found) == ["arrhythmia"]
    assert found[0].field == "new_arrhythmia"


def test_a_rise_over_the_patients_own_baseline_alerts() -> None:
    baseline = Vitals(systolic_bp=110, diastolic_bp=70, heart_rate=70, spo2=98)
    # 30% of 110 is 33: 143 is exactly +30% and does not fire; 144 does.
    assert vital_alerts(vitals=Vitals(systolic_bp=143, diastolic_bp=91), baseline=baseline) == ()
    found = vital_alerts(vitals=Vitals(systolic_bp=144, diastolic_bp=92), baseline=baseline)
    assert codes(found) == ["systolic_bp_rise", "diastolic_bp_rise"]
    assert found[0].threshold == pytest.approx(143)
    assert "baseline of 110" in found[0].message
    # Without a baseline only the absolute limits apply.
    assert vital_alerts(vitals=Vitals(systolic_bp=144, diastolic_bp=92)) == ()


def test_a_baseline_without_blood_pressure_gives_no_rise_alert() -> None:
    found = vital_alerts(
        vitals=Vitals(systolic_bp=170, diastolic_bp=100), baseline=Vitals(heart_rate=70)
    )
    assert found == ()


def test_both_absolute_and_relative_alerts_can_fire_together() -> None:
    baseline = Vitals(systolic_bp=120, diastolic_bp=70)
    found = vital_alerts(vitals=Vitals(systolic_bp=190, diastolic_bp=95), baseline=baseline)
    assert codes(found) == ["systolic_bp_high", "systolic_bp_rise", "diastolic_bp_rise"]


def test_the_rise_percent_is_the_clinics() -> None:
    policy = MonitoringPolicy(alert_bp_rise_percent=20)
    baseline = Vitals(systolic_bp=100, diastolic_bp=60)
    found = vital_alerts(
        vitals=Vitals(systolic_bp=121, diastolic_bp=72), baseline=baseline, policy=policy
    )
    assert codes(found) == ["systolic_bp_rise"]


@given(
    base=st.integers(min_value=60, max_value=200),
    value=st.integers(min_value=61, max_value=300),
    percent=st.integers(min_value=1, max_value=100),
)
def test_rise_rule_matches_exact_rational_arithmetic(base: int, value: int, percent: int) -> None:
    policy = MonitoringPolicy(alert_bp_rise_percent=percent, alert_systolic_bp=1000)
    found = vital_alerts(
        vitals=Vitals(systolic_bp=value, diastolic_bp=40),
        baseline=Vitals(systolic_bp=base, diastolic_bp=39),
        policy=policy,
    )
    expected = Fraction(value - base, base) > Fraction(percent, 100)
    assert ("systolic_bp_rise" in codes(found)) is expected


def test_alerts_refuse_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"^vitals must be Vitals"):
        vital_alerts(vitals=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^baseline must be Vitals"):
        vital_alerts(vitals=GOOD, baseline="120/80")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^policy"):
        vital_alerts(vitals=GOOD, policy=None)  # type: ignore[arg-type]


def test_sedation_alerts_at_or_below_the_limits() -> None:
    assert sedation_alerts() == ()
    assert sedation_alerts(rass=-2, moaas=3) == ()
    found = sedation_alerts(rass=-3, moaas=2)
    assert codes(found) == ["rass_low", "moaas_low"]
    assert found[0].message.startswith("RASS -3")
    assert found[1].threshold == 2
    assert codes(sedation_alerts(rass=-5)) == ["rass_low"]
    assert codes(sedation_alerts(moaas=0)) == ["moaas_low"]
    assert sedation_alerts(rass=4) == ()


@pytest.mark.parametrize(("rass", "moaas"), [(-6, None), (5, None), (None, 6), (None, -1)])
def test_sedation_levels_out_of_range_are_refused(rass: int | None, moaas: int | None) -> None:
    with pytest.raises(InvalidAnswers, match="level"):
        sedation_alerts(rass=rass, moaas=moaas)


def test_sedation_alerts_need_a_policy() -> None:
    with pytest.raises(ValueError, match=r"^policy"):
        sedation_alerts(rass=0, policy="strict")  # type: ignore[arg-type]


# -- overdue vitals ----------------------------------------------------------------------------


def test_vitals_fall_due_an_interval_after_the_last_set_or_the_start() -> None:
    start = NOW
    assert vitals_due_at(last_vitals_at=None, monitoring_since=start) == start + dt.timedelta(
        minutes=15
    )
    last = start + dt.timedelta(minutes=20)
    assert vitals_due_at(last_vitals_at=last, monitoring_since=start) == last + dt.timedelta(
        minutes=15
    )
    # Pre-infusion vitals do not count toward the first interval of the infusion.
    before = start - dt.timedelta(minutes=10)
    assert vitals_due_at(last_vitals_at=before, monitoring_since=start) == start + dt.timedelta(
        minutes=15
    )
    policy = MonitoringPolicy(vitals_interval_min=10)
    assert vitals_due_at(
        last_vitals_at=None, monitoring_since=start, policy=policy
    ) == start + dt.timedelta(minutes=10)


def test_vitals_are_overdue_strictly_after_the_interval() -> None:
    due = NOW + dt.timedelta(minutes=15)
    assert not vitals_overdue(last_vitals_at=None, monitoring_since=NOW, now=due)
    assert vitals_overdue(
        last_vitals_at=None, monitoring_since=NOW, now=due + dt.timedelta(seconds=1)
    )


def test_overdue_needs_aware_datetimes() -> None:
    naive = dt.datetime(2025, 3, 10, 15, 0)
    with pytest.raises(ValueError, match=r"^monitoring_since must carry a time zone"):
        vitals_due_at(last_vitals_at=None, monitoring_since=naive)
    with pytest.raises(ValueError, match=r"^last_vitals_at must be a datetime"):
        vitals_due_at(last_vitals_at="15:00", monitoring_since=NOW)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^now must carry"):
        vitals_overdue(last_vitals_at=None, monitoring_since=NOW, now=naive)
    with pytest.raises(ValueError, match=r"^policy"):
        vitals_due_at(last_vitals_at=None, monitoring_since=NOW, policy=1)  # type: ignore[arg-type]


# -- administration ----------------------------------------------------------------------------


def test_infused_amount_is_rate_times_time() -> None:
    assert infused_mg([]) == 0
    assert infused_mg([(0, 40, 52.5)]) == pytest.approx(35.0)
    assert infused_mg([(0, 10, 60), (10, 20, 0), (20, 30, 30.0)]) == pytest.approx(15.0)
    assert infused_mg(((5, 5, 100),)) == 0


@pytest.mark.parametrize(
    ("segments", "message"),
    [
        ("0,40,52", "^segments must be a sequence"),
        (None, "^segments must be a sequence"),
        ([(0, 40)], r"^segments\[0\] must be"),
        ([5], r"^segments\[0\] must be"),
        ([(-1, 40, 10)], r"^segments\[0\] start_min"),
        ([(0, 40, 10), (50, 40, 10)], r"^segments\[1\] end_min"),
        ([(0, 40, -10)], r"^segments\[0\] rate_mg_per_h"),
        ([(0, math.inf, 10)], r"^segments\[0\] end_min"),
        ([(0, 40, True)], r"^segments\[0\] rate_mg_per_h"),
    ],
)
def test_infused_amount_refuses_bad_segments(segments: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        infused_mg(segments)


def rate_check(**overrides: Any) -> None:
    args: dict[str, Any] = {
        "rate_mg_per_h": 52.5,
        "plan_rate_mg_per_h": 52.5,
        "given_mg": 10.0,
        "plan_total_mg": 35.0,
        "dosing_weight_kg": 70.0,
        "limits": DEFAULT_LIMITS,
    }
    args.update(overrides)
    infusion_rate_check(**args)


def test_the_plan_rate_and_slower_rates_are_accepted() -> None:
    rate_check()
    rate_check(rate_mg_per_h=20)
    rate_check(rate_mg_per_h=0, given_mg=35.0)


def test_a_paused_pump_is_always_allowed() -> None:
    # Even past every limit, stopping the pump must never be refused.
    rate_check(rate_mg_per_h=0, given_mg=500.0, dosing_weight_kg=1000.0)


def test_a_rate_above_the_plan_is_refused_exactly() -> None:
    with pytest.raises(PlanRateExceeded, match=r"^rate_mg_per_h 52.51 mg/h is above the plan"):
        rate_check(rate_mg_per_h=52.51)


def test_a_rate_past_the_clinic_limit_is_refused_before_the_plan() -> None:
    with pytest.raises(DoseLimitExceeded) as exc:
        rate_check(rate_mg_per_h=71, plan_rate_mg_per_h=100)
    assert exc.value.limit == "max_rate_mg_per_kg_h"
    with pytest.raises(DoseLimitExceeded):
        rate_check(rate_mg_per_h=1e9)
    tight = DoseLimits(max_rate_mg_per_kg_h=0.5)
    with pytest.raises(DoseLimitExceeded):
        rate_check(limits=tight)


def test_running_past_the_clinic_session_limit_is_refused() -> None:
    with pytest.raises(DoseLimitExceeded) as exc:
        rate_check(given_mg=201.0, plan_total_mg=300.0, dosing_weight_kg=150.0)
    assert exc.value.limit == "max_session_mg"


def test_running_after_the_planned_total_is_refused() -> None:
    with pytest.raises(PlannedDoseReached, match=r"^rate_mg_per_h: the plan's total of 35 mg"):
        rate_check(given_mg=35.0)
    with pytest.raises(PlannedDoseReached):
        rate_check(given_mg=34.995)
    rate_check(given_mg=34.98)


def test_the_planned_dose_is_given_within_a_hundredth_of_a_milligram() -> None:
    assert planned_dose_given(given_mg=35.0, plan_total_mg=35.0)
    assert planned_dose_given(given_mg=36.0, plan_total_mg=35.0)
    assert planned_dose_given(given_mg=34.99, plan_total_mg=35.0)  # the float sum's error
    assert not planned_dose_given(given_mg=34.98, plan_total_mg=35.0)
    assert not planned_dose_given(given_mg=0.0, plan_total_mg=35.0)
    assert Fraction(1, 100) == DOSE_REACHED_TOLERANCE_MG
    for field, values in (("given_mg", (-1.0, 35.0)), ("plan_total_mg", (35.0, math.nan))):
        given, total = values
        with pytest.raises(ValueError, match=rf"^{field}"):
            planned_dose_given(given_mg=given, plan_total_mg=total)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rate_mg_per_h", -1),
        ("rate_mg_per_h", math.nan),
        ("rate_mg_per_h", "52"),
        ("plan_rate_mg_per_h", -1),
        ("given_mg", -0.1),
        ("plan_total_mg", None),
    ],
)
def test_rate_check_refuses_bad_numbers(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"^{field}"):
        rate_check(**{field: value})


def test_rate_check_refuses_a_bad_weight() -> None:
    with pytest.raises(ValueError, match=r"^dosing_weight_kg"):
        rate_check(dosing_weight_kg=0)


# -- controlled substance ----------------------------------------------------------------------


def test_drawn_must_equal_given_plus_wasted() -> None:
    controlled_substance_check(drawn_mg=50, given_mg=35, wasted_mg=15, witnessed=True)
    controlled_substance_check(drawn_mg=35.1, given_mg=35.1, wasted_mg=0, witnessed=False)
    # 0.1 + 0.2 != 0.3 in binary floating point; the decimals entered do add up.
    controlled_substance_check(drawn_mg=0.3, given_mg=0.1, wasted_mg=0.2, witnessed=True)
    with pytest.raises(ValueError, match=r"^wasted_mg: given 35 mg \+ wasted 10 mg = 45 mg"):
        controlled_substance_check(drawn_mg=50, given_mg=35, wasted_mg=10, witnessed=True)


def test_waste_needs_a_witness() -> None:
    with pytest.raises(ValueError, match=r"^witness: a second nurse or physician"):
        controlled_substance_check(drawn_mg=50, given_mg=35, wasted_mg=15, witnessed=False)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("drawn_mg", 0),
        ("drawn_mg", -5),
        ("given_mg", -1),
        ("wasted_mg", math.inf),
        ("witness", "yes"),
    ],
)
def test_controlled_substance_check_refuses_bad_values(field: str, value: object) -> None:
    args: dict[str, Any] = {"drawn_mg": 50, "given_mg": 35, "wasted_mg": 15, "witnessed": True}
    args["witnessed" if field == "witness" else field] = value
    with pytest.raises(ValueError, match=rf"^{field}"):
        controlled_substance_check(**args)


# -- discharge ---------------------------------------------------------------------------------


def gate(**overrides: Any) -> Any:
    args: dict[str, Any] = {
        "aldrete_answers": ALDRETE_9,
        "escort_confirmed": True,
        "infusion_ended_at": NOW - dt.timedelta(minutes=30),
        "now": NOW,
    }
    args.update(overrides)
    return discharge_check(**args)


def test_discharge_when_every_condition_is_met() -> None:
    result = gate()
    assert result.ready is True
    assert result.missing == ()
    assert result.aldrete is not None
    assert result.aldrete.total == 9
    assert result.observed_min == 30


def test_discharge_is_refused_below_aldrete_nine() -> None:
    result = gate(aldrete_answers=ALDRETE_8)
    assert result.ready is False
    assert codes(result.missing) == ["aldrete_low"]
    assert result.missing[0].message == "Modified Aldrete score 8 is below 9."
    assert result.missing[0].source == DISCHARGE_SOURCE


def test_discharge_names_every_missing_condition() -> None:
    result = gate(
        aldrete_answers=None,
        escort_confirmed=False,
        infusion_ended_at=NOW - dt.timedelta(minutes=12, seconds=30),
    )
    assert codes(result.missing) == ["observation_short", "aldrete_missing", "no_escort"]
    assert "Only 12 min" in result.missing[0].message
    assert "(18 min to go)" in result.missing[0].message
    assert result.observed_min == pytest.approx(12.5)


def test_observation_short_by_whole_minutes() -> None:
    result = gate(infusion_ended_at=NOW - dt.timedelta(minutes=10))
    assert "(20 min to go)" in result.missing[0].message


def test_discharge_before_the_infusion_ended_is_refused() -> None:
    result = gate(infusion_ended_at=None)
    assert codes(result.missing) == ["infusion_not_ended"]
    assert result.observed_min is None


def test_discharge_uses_the_clinic_policy() -> None:
    policy = MonitoringPolicy(discharge_min_aldrete=10, discharge_min_observation_min=60)
    result = gate(policy=policy)
    assert codes(result.missing) == ["observation_short", "aldrete_low"]
    assert gate(policy=policy, aldrete_answers=ALDRETE_10, infusion_ended_at=NOW).missing[
        0
    ].threshold == (60)


def test_discharge_refuses_bad_input() -> None:
    with pytest.raises(InvalidAnswers):
        gate(aldrete_answers={"activity": 2})
    with pytest.raises(ValueError, match=r"^escort_confirmed"):
        gate(escort_confirmed="yes")
    with pytest.raises(ValueError, match=r"^infusion_ended_at must not be after now"):
        gate(infusion_ended_at=NOW + dt.timedelta(minutes=1))
    with pytest.raises(ValueError, match=r"^infusion_ended_at must carry"):
        gate(infusion_ended_at=dt.datetime(2025, 3, 10, 14, 0))
    with pytest.raises(ValueError, match=r"^now must be a datetime"):
        gate(now=None)
    with pytest.raises(ValueError, match=r"^policy"):
        gate(policy=DEFAULT_MONITORING.__dict__)


def test_default_policy_is_clinical_md() -> None:
    assert DEFAULT_MONITORING.discharge_min_aldrete == 9
    assert DEFAULT_MONITORING.discharge_min_observation_min == 30
    assert DEFAULT_MONITORING.vitals_interval_min == 15


# -- gates along the journey: the override ceiling and monitoring required ----------------------

T0 = dt.datetime(2026, 12, 3, 15, 0, tzinfo=dt.UTC)


def minutes(n: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


def test_precheck_readings_past_an_alert_limit_are_a_ceiling_no_override_clears() -> None:
    found = precheck_ceiling(
        vitals=Vitals(
            systolic_bp=220, diastolic_bp=130, heart_rate=125, spo2=90, respiratory_rate=8
        )
    )
    assert [f.code for f in found] == [
        "no_start_today_systolic_bp_high",
        "no_start_today_diastolic_bp_high",
        "no_start_today_heart_rate_high",
        "no_start_today_spo2_low",
        "no_start_today_respiratory_rate_low",
    ]
    assert found[0].message == (
        "Pre-check override ceiling: Systolic BP 220 mmHg is above 180, past the in-infusion "
        "alert limit: no infusion today, and no override can allow it."
    )
    assert found[2].message.startswith(
        f"{OVERRIDE_CEILING_GATE}: Heart rate 125/min is above 120, past"
    )
    assert {f.source for f in found} == {ALERT_SOURCE}
    assert all(is_ceiling(f.code) for f in found)
    # A failed pre-check below the alert limits (170/100) is not a ceiling: it may be overridden.
    assert precheck_ceiling(vitals=Vitals(systolic_bp=170, diastolic_bp=100, heart_rate=80)) == ()
    assert not is_ceiling("systolic_bp_high")
    assert not is_ceiling(None)


def test_baseline_vitals_must_lie_in_the_fifteen_minutes_before_the_start() -> None:
    assert baseline_vitals_missing(last_vitals_at=minutes(-15), start_at=T0) is None
    assert baseline_vitals_missing(last_vitals_at=T0, start_at=T0) is None
    late = baseline_vitals_missing(last_vitals_at=minutes(-16), start_at=T0)
    assert late is not None
    assert late.code == "baseline_vitals_missing"
    assert late.message == (
        "Monitoring required: no baseline vitals in the 15 min before the start; record a new "
        "pre-infusion check first."
    )
    assert late.source == VITALS_INTERVAL_SOURCE
    none = baseline_vitals_missing(last_vitals_at=None, start_at=T0, within_min=10)
    assert none is not None
    assert none.threshold == 10
    with pytest.raises(ValueError, match="within_min must be at least 1"):
        baseline_vitals_missing(last_vitals_at=None, start_at=T0, within_min=0)


def test_discharge_needs_vitals_after_the_stop_and_in_the_last_fifteen_minutes() -> None:
    ended = minutes(0)
    assert (
        discharge_vitals_missing(last_vitals_at=minutes(20), ended_at=ended, now=minutes(35)) == ()
    )
    assert [
        f.code
        for f in discharge_vitals_missing(
            last_vitals_at=minutes(5), ended_at=ended, now=minutes(35)
        )
    ] == ["vitals_before_discharge_missing"]
    assert [
        f.code
        for f in discharge_vitals_missing(last_vitals_at=None, ended_at=ended, now=minutes(35))
    ] == ["vitals_after_stop_missing", "vitals_before_discharge_missing"]
    # Vitals at the stop's own minute are not "after the stop".
    assert [
        f.message
        for f in discharge_vitals_missing(last_vitals_at=ended, ended_at=ended, now=minutes(10))
    ] == [f"{MONITORING_GATE}: no vitals charted since the infusion stopped."]


def test_gaps_longer_than_twice_the_interval_are_listed() -> None:
    taken = [minutes(-5), minutes(10), minutes(45), minutes(80)]  # before the start is ignored
    gaps = vitals_gaps(taken=taken, started_at=T0, ended_at=minutes(60), longer_than_min=30)
    assert gaps == (VitalsGap(minutes(10), minutes(45), 35.0),)
    assert vitals_gaps(taken=[], started_at=T0, ended_at=minutes(30), longer_than_min=30) == ()
    with pytest.raises(ValueError, match="ended_at must not be before started_at"):
        vitals_gaps(taken=[], started_at=T0, ended_at=minutes(-1), longer_than_min=30)
