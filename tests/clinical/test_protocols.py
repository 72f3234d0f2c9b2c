"""The shipped protocol templates and monitoring defaults agree with docs/clinical-policy.md."""

from __future__ import annotations

import pytest

from ketaclinic.clinical import dosing
from ketaclinic.clinical.monitoring import DEFAULT_MONITORING
from ketaclinic.clinical.protocols import PROTOCOL_TEMPLATES


def test_three_templates_ship_each_with_a_source() -> None:
    assert len(PROTOCOL_TEMPLATES) == 3
    # Each source names its publication: first author and year.
    authors = (
        "Tankha et al., Reg Anesth Pain Med 2025",
        "Schwartzman et al., Pain 2009",
        "Cohen SP",
    )
    for template, author in zip(PROTOCOL_TEMPLATES, authors, strict=True):
        assert author in template.source, template.name


def test_each_template_has_exactly_one_dose_form() -> None:
    for template in PROTOCOL_TEMPLATES:
        assert (template.dose_mg_per_kg is None) != (template.fixed_dose_mg is None), template.name


@pytest.mark.parametrize("weight_kg", [50.0, 70.0, 90.0])
def test_each_template_fits_the_default_limits_for_an_adult(weight_kg: float) -> None:
    for template in PROTOCOL_TEMPLATES:
        if template.dose_mg_per_kg is not None:
            dose = template.dose_mg_per_kg
        else:
            assert template.fixed_dose_mg is not None
            dose = template.fixed_dose_mg / weight_kg
        plan = dosing.infusion_plan(
            dose_mg_per_kg=dose,
            duration_min=template.duration_min,
            dosing_weight_kg=weight_kg,
            concentration_mg_per_ml=10.0,
        )
        assert plan.total_mg <= dosing.DEFAULT_LIMITS.max_session_mg


def test_cleveland_template_is_half_a_milligram_per_kilo_over_forty_minutes() -> None:
    cleveland = PROTOCOL_TEMPLATES[0]
    assert (cleveland.dose_mg_per_kg, cleveland.duration_min, cleveland.sessions_count) == (
        0.5,
        40,
        5,
    )


def test_schwartzman_template_is_point_35_per_hour_for_four_hours_capped_at_25() -> None:
    schwartzman = PROTOCOL_TEMPLATES[1]
    assert schwartzman.dose_mg_per_kg is not None
    assert schwartzman.dose_mg_per_kg / (schwartzman.duration_min / 60) == pytest.approx(0.35)
    assert schwartzman.rate_cap_mg_per_h == 25.0
    assert schwartzman.sessions_count == 10


def test_asra_trial_gives_at_least_80_mg_over_more_than_two_hours() -> None:
    trial = PROTOCOL_TEMPLATES[2]
    assert trial.fixed_dose_mg is not None
    assert trial.fixed_dose_mg >= 80
    assert trial.duration_min > 120
    assert trial.sessions_count == 1


def test_monitoring_defaults_are_clinical_md() -> None:
    m = DEFAULT_MONITORING
    assert (m.precheck_max_systolic_bp, m.precheck_max_diastolic_bp) == (160, 100)
    assert (m.alert_systolic_bp, m.alert_diastolic_bp, m.alert_bp_rise_percent) == (180, 110, 30)
    assert (m.alert_heart_rate, m.alert_spo2, m.alert_respiratory_rate) == (120, 92, 10)
    assert (m.alert_rass, m.alert_moaas, m.vitals_interval_min) == (-3, 2, 15)
    assert (m.discharge_min_aldrete, m.discharge_min_observation_min) == (9, 30)
