"""The ketamine protocol: dosing weight, the template's rate cap, pump numbers and hard limits.

Numbers are checked against values computed by hand in the comments.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from ketaclinic.audit.models import AuditEvent
from ketaclinic.clinics.models import ClinicPolicy, ProtocolTemplate
from ketaclinic.plans import services
from ketaclinic.plans.models import KetamineProtocol, Plan, PlanStatus
from ketaclinic.plans.protocol import DoseRefusedError
from tests.conftest import World
from tests.factories.plans import (
    ASRA,
    CLEVELAND,
    SCHWARTZMAN,
    draft,
    physician,
    save_protocol,
    set_limits,
    with_protocol,
)

pytestmark = pytest.mark.django_db


def _save(world: World, plan: Plan, name: str | None = None, **overrides: Any) -> KetamineProtocol:
    return save_protocol(world, plan, name or CLEVELAND, **overrides)


def _heavy_template(world: World) -> ProtocolTemplate:
    # 1.5 mg/kg over 2 h is 0.75 mg/kg/h: within every default limit for a 70 kg adult, but
    # 1.5 x 140 kg = 210 mg is over the 200 mg per session limit.
    return ProtocolTemplate.objects.create(
        clinic=world.clinic,
        name="1.5 mg/kg over 2 h",
        dose_mg_per_kg=1.5,
        duration_min=120,
        sessions_count=3,
        source="Test template",
    )


def _snapshot(plan: Plan) -> tuple[Any, ...]:
    plan.refresh_from_db()
    protocol = KetamineProtocol.objects.filter(plan=plan).values_list("total_mg", "policy_version")
    return (plan.version, plan.status, list(protocol), AuditEvent.objects.count())


# -- the numbers -------------------------------------------------------------------------------


def test_cleveland_template_on_actual_weight_gives_the_hand_computed_pump_settings(
    world: World,
) -> None:
    protocol = _save(world, draft(world))
    # 0.5 mg/kg x 70 kg = 35 mg over 40 min = 52.5 mg/h; at 10 mg/mL 5.25 mL/h and 3.5 mL.
    assert protocol.dosing_weight_kg == 70.0
    assert protocol.total_mg == 35.0
    assert protocol.rate_mg_per_h == 52.5
    assert protocol.rate_ml_per_h == 5.25
    assert protocol.volume_ml == 3.5
    assert protocol.rate_capped is False
    # 52.5 mg/h / 70 kg = 0.75 mg/kg/h; 35 mg / 70 kg = 0.5 mg/kg.
    assert protocol.rate_mg_per_kg_h == 0.75
    assert protocol.given_mg_per_kg == 0.5
    assert protocol.uncapped_total_mg == 35.0
    assert (protocol.sessions_count, protocol.pattern, protocol.duration_min) == (5, "weekdays", 40)


@pytest.mark.parametrize(
    ("concentration", "ml_per_h", "volume"),
    [(10.0, 5.25, 3.5), (50.0, 1.05, 0.7), (100.0, 0.525, 0.35)],
)
def test_each_concentration_on_hand_changes_only_the_volumes(
    world: World, concentration: float, ml_per_h: float, volume: float
) -> None:
    protocol = _save(world, draft(world), concentration_mg_per_ml=concentration)
    assert protocol.total_mg == 35.0
    assert protocol.rate_ml_per_h == pytest.approx(ml_per_h, abs=1e-12)
    assert protocol.volume_ml == pytest.approx(volume, abs=1e-12)


def test_ideal_weight_basis_uses_devine_for_a_woman(world: World) -> None:
    # Alice is female. 165 cm = 64.961 in; 45.5 + 2.3 x 4.961 = 56.909 kg.
    # 0.5 mg/kg x 56.909 = 28.455 mg over 40 min = 42.682 mg/h = 4.2682 mL/h; 2.8455 mL.
    protocol = _save(world, draft(world), dosing_basis="ideal", weight_kg=90.0, height_cm=165.0)
    assert protocol.sex == "female"
    assert protocol.dosing_weight_kg == pytest.approx(56.9094, abs=1e-4)
    assert protocol.total_mg == pytest.approx(28.4547, abs=1e-4)
    assert protocol.rate_mg_per_h == pytest.approx(42.6820, abs=1e-4)
    assert protocol.rate_ml_per_h == pytest.approx(4.26820, abs=1e-5)
    assert protocol.volume_ml == pytest.approx(2.84547, abs=1e-5)


def test_ideal_weight_basis_uses_devine_for_a_man(world: World) -> None:
    # Bob is male. 180 cm = 70.866 in; 50 + 2.3 x 10.866 = 74.992 kg; x 0.5 = 37.496 mg.
    plan = draft(world, world.bob_patient)
    protocol = _save(world, plan, dosing_basis="ideal", weight_kg=90.0, height_cm=180.0)
    assert protocol.sex == "male"
    assert protocol.dosing_weight_kg == pytest.approx(74.9921, abs=1e-4)
    assert protocol.total_mg == pytest.approx(37.4961, abs=1e-4)


def test_adjusted_weight_basis(world: World) -> None:
    # 56.909 + 0.4 x (90 - 56.909) = 70.146 kg; x 0.5 = 35.073 mg over 40 min = 52.609 mg/h.
    protocol = _save(world, draft(world), dosing_basis="adjusted", weight_kg=90.0, height_cm=165.0)
    assert protocol.dosing_weight_kg == pytest.approx(70.1457, abs=1e-4)
    assert protocol.total_mg == pytest.approx(35.0728, abs=1e-4)
    assert protocol.rate_mg_per_h == pytest.approx(52.6092, abs=1e-4)


def test_ideal_weight_is_never_more_than_the_actual_weight(world: World) -> None:
    # Devine gives 56.9 kg at 165 cm, but she weighs 50 kg: 50 kg is used (25 mg).
    protocol = _save(world, draft(world), dosing_basis="ideal", weight_kg=50.0, height_cm=165.0)
    assert protocol.dosing_weight_kg == 50.0
    assert protocol.total_mg == 25.0


def test_schwartzman_rate_below_the_cap_is_point_35_mg_per_kg_per_hour(world: World) -> None:
    # 0.35 mg/kg/h x 70 kg = 24.5 mg/h (under 25); x 4 h = 98 mg; 2.45 mL/h; 9.8 mL.
    protocol = _save(world, draft(world), SCHWARTZMAN)
    assert protocol.rate_mg_per_h == pytest.approx(24.5, abs=1e-12)
    assert protocol.total_mg == pytest.approx(98.0, abs=1e-12)
    assert protocol.rate_ml_per_h == pytest.approx(2.45, abs=1e-12)
    assert protocol.volume_ml == pytest.approx(9.8, abs=1e-12)
    assert protocol.rate_cap_mg_per_h == 25.0
    assert protocol.rate_capped is False


def test_schwartzman_cap_holds_a_heavy_patient_at_25_mg_per_hour(world: World) -> None:
    # 0.35 x 100 kg = 35 mg/h is over the 25 mg/h cap: the rate is 25 mg/h and the dose falls
    # to 25 x 4 h = 100 mg (not 140 mg); 2.5 mL/h and 10 mL at 10 mg/mL.
    protocol = _save(world, draft(world), SCHWARTZMAN, weight_kg=100.0, height_cm=180.0)
    assert protocol.rate_capped is True
    assert protocol.rate_mg_per_h == 25.0
    assert protocol.total_mg == 100.0
    assert protocol.uncapped_total_mg == pytest.approx(140.0, abs=1e-12)
    # 25 mg/h / 100 kg = 0.25 mg/kg/h; 100 mg / 100 kg = 1.0 mg/kg.
    assert protocol.rate_mg_per_kg_h == 0.25
    assert protocol.given_mg_per_kg == 1.0
    assert protocol.rate_ml_per_h == 2.5
    assert protocol.volume_ml == 10.0


def test_asra_fixed_dose_is_80_mg_whatever_the_weight(world: World) -> None:
    # 80 mg over 150 min = 32 mg/h = 3.2 mL/h at 10 mg/mL; 8 mL.
    protocol = _save(world, draft(world), ASRA, weight_kg=95.0, height_cm=180.0)
    assert protocol.dose_mg_per_kg is None
    assert protocol.fixed_dose_mg == 80.0
    assert protocol.total_mg == pytest.approx(80.0, abs=1e-9)
    assert protocol.rate_mg_per_h == pytest.approx(32.0, abs=1e-9)
    assert protocol.rate_ml_per_h == pytest.approx(3.2, abs=1e-9)
    assert protocol.volume_ml == pytest.approx(8.0, abs=1e-9)


def test_the_protocol_stores_the_policy_version_and_values_it_was_checked_with(
    world: World,
) -> None:
    protocol = _save(world, draft(world))
    policy = ClinicPolicy.objects.get(clinic=world.clinic, version=1)
    assert protocol.policy_version == 1
    assert protocol.policy_values == policy.snapshot()
    assert protocol.template_name.startswith("0.5 mg/kg over 40 min")
    assert "Tankha" in protocol.source


def test_saving_the_protocol_is_audited_with_the_policy_version(world: World) -> None:
    plan = draft(world)
    _save(world, plan)
    _save(world, plan, duration_min=60)
    events = list(AuditEvent.objects.filter(object_type="ketamine_protocol").order_by("id"))
    assert [e.action for e in events] == ["create", "update"]
    assert events[1].detail["policy_version"] == 1
    assert "duration_min" in events[1].detail["fields"]
    assert events[1].patient_id == world.alice_patient.pk
    # Names of fields, never the dose itself: the detail holds exactly these keys, and its
    # "fields" only names. (A substring check for "35" failed when PostgreSQL's sequence gave
    # the template id 3356.)
    protocol = KetamineProtocol.objects.get(plan=plan)
    for event in events:
        assert set(event.detail) == {"fields", "template", "policy_version"}
        assert all(isinstance(name, str) for name in event.detail["fields"])
        assert protocol.total_mg not in event.detail.values()
        assert event.detail["template"] == protocol.template_id


# -- hard limits -------------------------------------------------------------------------------


def test_a_heavy_patient_past_the_session_limit_is_refused_naming_the_limit(world: World) -> None:
    template = _heavy_template(world)
    plan = draft(world)
    before = _snapshot(plan)
    with pytest.raises(DoseRefusedError) as refused:
        _save(
            world,
            plan,
            template_id=template.pk,
            dose_mg_per_kg=1.5,
            duration_min=120,
            weight_kg=140.0,
            height_cm=185.0,
        )
    assert refused.value.limits == ("max_session_mg",)
    message = refused.value.messages[0]
    assert "max_session_mg" in message
    assert "200 mg" in message
    assert "210 mg" in message
    assert "no override" in message
    assert _snapshot(plan) == before


def test_the_same_template_fits_a_lighter_patient(world: World) -> None:
    template = _heavy_template(world)
    protocol = _save(
        world,
        draft(world),
        template_id=template.pk,
        dose_mg_per_kg=1.5,
        duration_min=120,
        weight_kg=130.0,
        height_cm=185.0,
    )
    assert protocol.total_mg == 195.0


def test_raising_the_clinic_limit_lets_the_heavy_patient_through(world: World) -> None:
    template = _heavy_template(world)
    set_limits(world, max_session_mg=250.0)
    protocol = _save(
        world,
        draft(world),
        template_id=template.pk,
        dose_mg_per_kg=1.5,
        duration_min=120,
        weight_kg=140.0,
        height_cm=185.0,
    )
    assert protocol.total_mg == 210.0
    assert protocol.policy_version == 2
    assert protocol.policy_values["max_session_mg"] == 250.0


def test_lowering_the_clinic_limit_refuses_a_dose_it_allowed_before(world: World) -> None:
    assert _save(world, draft(world, world.bob_patient)).total_mg == 35.0
    set_limits(world, max_session_mg=30.0)
    plan = draft(world)
    before = _snapshot(plan)
    with pytest.raises(DoseRefusedError, match=r"max_session_mg.*30 mg.*35 mg"):
        _save(world, plan)
    assert _snapshot(plan) == before


def test_a_rate_past_the_limit_is_refused_naming_it(world: World) -> None:
    # 0.5 mg/kg over 20 min is 1.5 mg/kg/h, over 1.0 mg/kg/h.
    plan = draft(world)
    before = _snapshot(plan)
    with pytest.raises(DoseRefusedError) as refused:
        _save(world, plan, duration_min=20)
    assert refused.value.limits == ("max_rate_mg_per_kg_h",)
    assert "1.5 mg/kg/h" in refused.value.messages[0]
    assert _snapshot(plan) == before


def test_a_dose_per_kg_past_the_limit_is_refused_naming_it(world: World) -> None:
    plan = draft(world)
    with pytest.raises(DoseRefusedError) as refused:
        _save(world, plan, dose_mg_per_kg=2.5, duration_min=240)
    assert refused.value.limits == ("max_session_mg_per_kg",)
    assert "2.5 mg/kg" in refused.value.messages[0]


def test_every_limit_exceeded_is_named(world: World) -> None:
    plan = draft(world)
    with pytest.raises(DoseRefusedError) as refused:
        _save(world, plan, dose_mg_per_kg=3.0, duration_min=60, weight_kg=100.0)
    assert refused.value.limits == (
        "max_rate_mg_per_kg_h",
        "max_session_mg_per_kg",
        "max_session_mg",
    )


def test_signing_checks_the_dose_again_against_limits_lowered_since(world: World) -> None:
    plan = with_protocol(world, draft(world))
    set_limits(world, max_session_mg=30.0)
    before = _snapshot(plan)
    with pytest.raises(DoseRefusedError, match="max_session_mg"):
        services.plan_sign(
            actor=physician(world), plan_id=str(plan.public_id), expected_version=plan.version
        )
    assert _snapshot(plan) == before
    assert Plan.objects.get(pk=plan.pk).status == PlanStatus.DRAFT


def test_signing_records_the_policy_version_it_checked_against(world: World) -> None:
    plan = with_protocol(world, draft(world))
    set_limits(world, max_session_mg=150.0)
    services.plan_sign(
        actor=physician(world), plan_id=str(plan.public_id), expected_version=plan.version
    )
    protocol = KetamineProtocol.objects.get(plan=plan)
    assert protocol.policy_version == 2
    assert protocol.policy_values["max_session_mg"] == 150.0
    assert AuditEvent.objects.get(action="sign").detail["policy_version"] == 2


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"dosing_basis": "lean"}, "dosing_basis", "basis must be one of"),
        ({"concentration_mg_per_ml": 25.0}, "concentration_mg_per_ml", "on hand"),
        ({"pk_model": "marsh"}, "pk_model", "domino"),
        ({"duration_min": 0}, "duration_min", "greater than 0"),
        ({"dose_mg_per_kg": -0.5}, "dose_mg_per_kg", "greater than 0"),
        ({"dose_mg_per_kg": None}, "dose_mg_per_kg", "either a dose per kg or a fixed dose"),
        ({"fixed_dose_mg": 80.0}, "dose_mg_per_kg", "not both"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_saved(
    world: World, overrides: dict[str, Any], field: str, text: str
) -> None:
    plan = draft(world)
    before = _snapshot(plan)
    with pytest.raises(ValidationError) as refused:
        _save(world, plan, **overrides)
    assert not isinstance(refused.value, DoseRefusedError)
    assert field in refused.value.message_dict
    assert text in " ".join(refused.value.message_dict[field])
    assert _snapshot(plan) == before


def test_a_template_of_another_clinic_or_inactive_is_refused(world: World) -> None:
    plan = draft(world)
    other = ProtocolTemplate.objects.filter(clinic=world.other_clinic).first()
    assert other is not None
    with pytest.raises(ValidationError) as refused:
        _save(world, plan, template_id=other.pk)
    assert "template" in refused.value.message_dict
    inactive = _heavy_template(world)
    inactive.is_active = False
    inactive.save()
    with pytest.raises(ValidationError, match="active protocol templates"):
        _save(world, plan, template_id=inactive.pk, dose_mg_per_kg=1.5)
    assert not KetamineProtocol.objects.exists()
