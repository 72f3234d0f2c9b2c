"""Plans, two ways: through the plans services (a draft, a protocol saved as the form would, a
signed plan), as a physician would make them, and straight in the database (a plan with its
ketamine protocol) for tests about what comes after the plan: series, infusion days."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from ketaclinic.accounts.models import User
from ketaclinic.assessments.selectors import latest_exam_measurements
from ketaclinic.audit.services import Actor
from ketaclinic.clinics.models import ClinicPolicy, ProtocolTemplate
from ketaclinic.clinics.services import clinic_policy_change, policy_proposal_approve
from ketaclinic.patients.models import Patient
from ketaclinic.plans import services
from ketaclinic.plans.models import KetamineProtocol, Plan, PlanStatus
from tests.factories import base
from tests.factories.assessments import ensure_eligible, measured
from tests.factories.world import World

CLEVELAND = "0.5 mg/kg over 40 min, 5 consecutive days"
SCHWARTZMAN = "0.35 mg/kg/h for 4 h, capped at 25 mg/h, 10 days"
ASRA = "Single trial: 80 mg over 2 h 30 min, then reassess"


def physician(world: World) -> Actor:
    return base.actor(world.physician)


def future(days: int = 90) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=days)


def template(world: World, name: str = CLEVELAND) -> ProtocolTemplate:
    return ProtocolTemplate.objects.get(clinic=world.clinic, name=name)


# --- through the services ----------------------------------------------------------------------


def draft(
    world: World,
    patient: Patient | None = None,
    *,
    goals: str = "Walk the dog every day; sleep through the night.",
    review_date: dt.date | None = None,
    components: dict[str, str] | None = None,
) -> Plan:
    return services.plan_create(
        actor=physician(world),
        patient_public_id=str((patient or world.alice_patient).public_id),
        goals=goals,
        review_date=review_date or future(),
        components=components
        if components is not None
        else {"pregabalin": "75 mg twice a day, then 150 mg twice a day", "cbt": "8 sessions"},
    )


def choice(world: World, name: str = CLEVELAND, **overrides: Any) -> services.ProtocolChoice:
    chosen = template(world, name)
    values: dict[str, Any] = {
        "template_id": chosen.pk,
        "dosing_basis": "actual",
        "dose_mg_per_kg": chosen.dose_mg_per_kg,
        "fixed_dose_mg": chosen.fixed_dose_mg,
        "duration_min": chosen.duration_min,
        "concentration_mg_per_ml": 10.0,
        "pk_model": "domino",
    }
    values.update(overrides)
    return services.ProtocolChoice(**values)


def save_protocol(
    world: World, plan: Plan, name: str = CLEVELAND, **overrides: Any
) -> KetamineProtocol:
    """Save the plan's protocol as the form would. ``weight_kg``/``height_cm`` among the
    overrides record a new exam with those measurements first (the dose rests on the latest
    exam, never on a typed weight); without them a patient never measured gets a 70 kg, 170 cm
    exam (and no eligibility decision: that gate is the tests' own business)."""
    body = {k: overrides.pop(k) for k in ("weight_kg", "height_cm") if k in overrides}
    if body or latest_exam_measurements(patient=plan.patient) is None:
        measured(world, plan.patient, **body)
    plan.refresh_from_db()
    return services.protocol_save(
        actor=physician(world),
        plan_id=str(plan.public_id),
        expected_version=plan.version,
        choice=choice(world, name, **overrides),
    )


def with_protocol(world: World, plan: Plan, name: str = CLEVELAND, **overrides: Any) -> Plan:
    save_protocol(world, plan, name, **overrides)
    plan.refresh_from_db()
    return plan


def signed(world: World, patient: Patient | None = None) -> Plan:
    ensure_eligible(patient or world.alice_patient, world.physician)
    plan = with_protocol(world, draft(world, patient))
    return services.plan_sign(
        actor=physician(world), plan_id=str(plan.public_id), expected_version=plan.version
    )


def set_limits(world: World, **limits: float) -> ClinicPolicy:
    """A new policy version with other dose limits, as the clinic admin would save it (and a
    second physician approve it, when a limit goes above its default)."""
    current = ClinicPolicy.objects.filter(clinic=world.clinic).order_by("-version").first()
    assert current is not None
    saved = clinic_policy_change(
        actor=Actor(user=world.clinic_admin),
        clinic=world.clinic,
        values=limits,
        based_on_version=current.version,
        note="Other limits for the test",
    )
    if isinstance(saved, ClinicPolicy):
        return saved
    # Raising a limit above its default waits for a second physician (gate 9).
    return policy_proposal_approve(actor=physician(world), proposal_id=saved.pk)


# --- straight in the database ------------------------------------------------------------------


def plan_for(
    patient: Patient,
    physician: User,
    *,
    status: str = PlanStatus.SIGNED,
    sessions: int = 5,
    pattern: str = "weekdays",
    duration_min: int = 40,
    rate_mg_per_h: float = 52.5,
    exam_date: dt.date | None = None,
) -> Plan:
    """A plan with a ketamine protocol (signed unless ``status`` says draft), made with the ORM
    for a patient found eligible at an exam on ``exam_date`` (today unless the test runs on a
    clock of its own): 0.5 mg/kg over 40 min for 70 kg at 10 mg/mL, 35 mg at 5.25 mL/h."""
    ensure_eligible(patient, physician, exam_date=exam_date)
    number = Plan.objects.filter(patient=patient).count() + 1
    signed = status != PlanStatus.DRAFT
    plan = Plan.objects.create(
        clinic_id=patient.clinic_id,
        patient=patient,
        number=number,
        status=status,
        created_by=physician,
        signed_by=physician if signed else None,
        signed_at=timezone.now() if signed else None,
    )
    KetamineProtocol.objects.create(
        plan=plan,
        template_name="0.5 mg/kg over 40 min",
        weight_kg=70.0,
        height_cm=170.0,
        sex=patient.sex,
        dosing_basis="actual",
        dose_mg_per_kg=0.5,
        duration_min=duration_min,
        concentration_mg_per_ml=10.0,
        sessions_count=sessions,
        pattern=pattern,
        pk_model="domino",
        dosing_weight_kg=70.0,
        total_mg=35.0,
        rate_mg_per_h=rate_mg_per_h,
        rate_ml_per_h=rate_mg_per_h / 10,
        volume_ml=3.5,
        policy_version=1,
        policy_values={},
    )
    return plan


def make_plan(world: World, patient: Patient, **options: Any) -> Plan:
    """``plan_for`` the world's physician (the options are ``plan_for``'s)."""
    return plan_for(patient, world.physician, **options)
