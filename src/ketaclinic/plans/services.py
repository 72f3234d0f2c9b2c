"""Writes to plans: one transaction each, authorized and audited in the same transaction.

A plan is a draft until a physician signs it; a signed plan is read-only. A change after
signing is a revision: a new draft (number + 1) that copies the components and the protocol and
supersedes the signed plan when it is signed itself. Every write checks the version the form
was loaded with (optimistic locking) under a row lock, so two saves cannot both pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from ketaclinic.assessments.selectors import (
    ExamMeasurements,
    latest_exam_measurements,
    require_eligibility_in_force,
)
from ketaclinic.audit.models import Action
from ketaclinic.audit.services import Actor, audit_record
from ketaclinic.clinics.models import ClinicPolicy, ProtocolTemplate
from ketaclinic.clinics.selectors import clinic_policy_current, protocol_templates_active
from ketaclinic.lib.forms import StaleObjectError
from ketaclinic.patients.access import access_patient
from ketaclinic.patients.models import Patient
from ketaclinic.plans.access import PLAN_WRITERS, access_plan
from ketaclinic.plans.models import (
    COMPONENT_CHOICES,
    KetamineProtocol,
    Plan,
    PlanComponent,
    PlanStatus,
)
from ketaclinic.plans.protocol import ComputedProtocol, ProtocolInputs, protocol_compute
from ketaclinic.scheduling.services import series_replace_for_revision

__all__ = [
    "COMPONENT_CODES",
    "DosingWeightGateError",
    "PlanLockedError",
    "ProtocolChoice",
    "plan_create",
    "plan_revise",
    "plan_sign",
    "plan_update",
    "protocol_save",
]

COMPONENT_CODES = frozenset(code for code, _ in COMPONENT_CHOICES)
MAX_DETAILS = 2000
MAX_GOALS = 4000


class PlanLockedError(ValidationError):
    """The plan is signed (or superseded): it is read-only."""

    def __init__(self, plan: Plan) -> None:
        super().__init__(
            f"Plan {plan.number} is {plan.get_status_display().lower()} and read-only. "
            "To change it, revise it: that makes a new draft.",
            code="locked",
        )


# -- helpers -----------------------------------------------------------------------------------


def _writer(actor: Actor) -> None:
    # Views already 404 other roles; the service refuses too, so no caller can skip the rule.
    if actor.user is None or actor.user.role not in PLAN_WRITERS:
        raise PermissionError("Only a physician writes plans.")


def _locked_draft(actor: Actor, plan_id: str, expected_version: int) -> Plan:
    """The plan, authorized for writing, locked, at the expected version and still a draft."""
    assert actor.user is not None
    found = access_plan(actor.user, plan_id, for_write=True)
    _lock_patient(found.patient)
    plan = Plan.objects.select_for_update().select_related("patient").get(pk=found.pk)
    if plan.version != expected_version:
        raise StaleObjectError("plan")
    if plan.status != PlanStatus.DRAFT:
        raise PlanLockedError(plan)
    return plan


def _bump(plan: Plan) -> None:
    plan.version = F("version") + 1
    plan.save(update_fields=["version", "updated_at"])
    plan.refresh_from_db(fields=["version", "updated_at"])


def _check_review_date(review_date: dt.date | None) -> None:
    if review_date is not None and review_date <= timezone.localdate():
        raise ValidationError({"review_date": "The review date must be in the future."})


def _clean_components(components: Mapping[str, str]) -> dict[str, str]:
    cleaned: dict[str, str] = {}
    for code, details in components.items():
        if code not in COMPONENT_CODES:
            raise ValidationError({"__all__": f"{code!r} is not a plan component."})
        text = details.strip()
        if len(text) > MAX_DETAILS:
            raise ValidationError(
                {f"c_{code}": f"Keep the details under {MAX_DETAILS} characters."}
            )
        # A component without details is simply not part of the plan.
        if text:
            cleaned[code] = text
    return cleaned


def _clean_goals(goals: str) -> str:
    text = goals.strip()
    if len(text) > MAX_GOALS:
        raise ValidationError({"goals": f"Keep the goals under {MAX_GOALS} characters."})
    return text


def _replace_components(plan: Plan, components: dict[str, str]) -> list[str]:
    """Make the plan's components exactly ``components``; returns the codes that changed."""
    existing = {c.code: c for c in plan.components.all()}
    changed = sorted(
        code
        for code in set(existing) | set(components)
        if code not in existing
        or code not in components
        or existing[code].details != components[code]
    )
    PlanComponent.objects.filter(plan=plan, code__in=[c for c in changed if c in existing]).delete()
    new = [
        PlanComponent(plan=plan, code=code, details=components[code])
        for code in changed
        if code in components
    ]
    for component in new:
        # Uniqueness is the constraint's job (codes are already distinct here).
        component.full_clean(exclude=["plan"], validate_unique=False, validate_constraints=False)
    PlanComponent.objects.bulk_create(new)
    return changed


def _next_number(patient: Patient) -> int:
    highest = Plan.objects.filter(patient=patient).aggregate(n=Max("number"))["n"]
    return (highest or 0) + 1


def _lock_patient(patient: Patient) -> None:
    # Every plan write locks the patient row first, then plan rows: one fixed order, so two
    # writers never deadlock, and plan numbers and the one-draft and one-signed rules hold
    # when two physicians act at once.
    Patient.objects.select_for_update().only("pk").get(pk=patient.pk)


def _draft_exists_error(patient: Patient) -> ValidationError:
    return ValidationError(
        "This patient already has a draft plan: finish or sign it before starting another.",
        code="draft_exists",
    )


# -- plans -------------------------------------------------------------------------------------


@transaction.atomic
def plan_create(
    *,
    actor: Actor,
    patient_public_id: str,
    goals: str,
    review_date: dt.date | None,
    components: Mapping[str, str],
) -> Plan:
    """Start a draft plan for a patient (one draft at a time)."""
    _writer(actor)
    assert actor.user is not None
    patient = access_patient(actor.user, patient_public_id, for_write=False, clinical=True)
    cleaned = _clean_components(components)
    _check_review_date(review_date)
    _lock_patient(patient)
    if Plan.objects.filter(patient=patient, status=PlanStatus.DRAFT).exists():
        raise _draft_exists_error(patient)
    plan = Plan(
        clinic_id=patient.clinic_id,
        patient=patient,
        number=_next_number(patient),
        goals=_clean_goals(goals),
        review_date=review_date,
        created_by=actor.user,
    )
    plan.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            plan.save()
    except IntegrityError:
        raise _draft_exists_error(patient) from None
    codes = _replace_components(plan, cleaned)
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="plan",
        object_id=plan.public_id,
        patient=patient,
        detail={"number": plan.number, "components": codes},
    )
    return plan


@transaction.atomic
def plan_update(
    *,
    actor: Actor,
    plan_id: str,
    expected_version: int,
    goals: str,
    review_date: dt.date | None,
    components: Mapping[str, str],
) -> Plan:
    """Change a draft's goals, review date and components; refused on a signed or stale plan."""
    _writer(actor)
    plan = _locked_draft(actor, plan_id, expected_version)
    cleaned = _clean_components(components)
    _check_review_date(review_date)
    changed: list[str] = []
    new_goals = _clean_goals(goals)
    if plan.goals != new_goals:
        plan.goals = new_goals
        changed.append("goals")
    if plan.review_date != review_date:
        plan.review_date = review_date
        changed.append("review_date")
    codes = _replace_components(plan, cleaned)
    if not changed and not codes:
        return plan
    plan.full_clean(validate_constraints=False)
    plan.version = F("version") + 1
    plan.save()
    plan.refresh_from_db()
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="plan",
        object_id=plan.public_id,
        patient=plan.patient,
        # Names only: the audit trail must not become a second copy of the plan.
        detail={"fields": changed, "components": codes},
    )
    return plan


# -- the ketamine protocol ---------------------------------------------------------------------


@dataclass(frozen=True)
class ProtocolChoice:
    """What the physician chose on the protocol form (the rest comes from the template).

    No weight or height: those are the latest exam's measurements, read by the service, so a
    typed weight can never pass the dose limits (docs/clinical-policy.md "Gates along the
    journey (added 2026-12-03)", item 2).
    """

    template_id: int
    dosing_basis: str
    dose_mg_per_kg: float | None
    fixed_dose_mg: float | None
    duration_min: int
    concentration_mg_per_ml: float
    pk_model: str


class DosingWeightGateError(ValidationError):
    """The dose cannot rest on the measured patient: no exam, a stale one, or a newer one."""

    def __init__(self, message: str) -> None:
        super().__init__(f"Dosing weight gate: {message}", code="dosing_weight_gate")


def _measured(patient: Patient) -> ExamMeasurements:
    found = latest_exam_measurements(patient=patient)
    if found is None:
        raise DosingWeightGateError(
            "no exam records the patient's weight and height. Record both at a consultation; "
            "the dose is computed from the exam, never from a typed weight."
        )
    return found


def _check_exam_for_signing(
    protocol: KetamineProtocol, measured: ExamMeasurements, *, today: dt.date, max_age_days: int
) -> None:
    """Gate 2 at signing: the protocol rests on the newest exam, at most ``max_age_days`` old."""
    if (measured.consultation_id, measured.weight_kg, measured.height_cm) != (
        protocol.exam_id,
        protocol.weight_kg,
        protocol.height_cm,
    ):
        raise DosingWeightGateError(
            f"the protocol was computed on {protocol.weight_kg:g} kg and {protocol.height_cm:g} "
            f"cm, but the latest exam ({measured.exam_date:%b} {measured.exam_date.day}, "
            f"{measured.exam_date.year}) records {measured.weight_kg:g} kg and "
            f"{measured.height_cm:g} cm. Open the ketamine protocol and save it again to "
            "recompute the dose on the latest exam."
        )
    age = (today - measured.exam_date).days
    if age > max_age_days:
        raise DosingWeightGateError(
            f"the latest exam with weight and height is from {measured.exam_date:%b} "
            f"{measured.exam_date.day}, {measured.exam_date.year}, {age} days ago; the clinic "
            f"allows at most {max_age_days} days at signing. Record today's weight and height "
            "at a consultation, then save the ketamine protocol again."
        )


def _template(clinic_id: int, template_id: int) -> ProtocolTemplate:
    for template in protocol_templates_active(clinic_id=clinic_id):
        if template.pk == template_id:
            return template
    raise ValidationError({"template": "Choose one of the clinic's active protocol templates."})


def _inputs_of(protocol: KetamineProtocol) -> ProtocolInputs:
    return ProtocolInputs(
        dosing_basis=protocol.dosing_basis,
        dose_mg_per_kg=protocol.dose_mg_per_kg,
        fixed_dose_mg=protocol.fixed_dose_mg,
        duration_min=protocol.duration_min,
        rate_cap_mg_per_h=protocol.rate_cap_mg_per_h,
        concentration_mg_per_ml=protocol.concentration_mg_per_ml,
        weight_kg=protocol.weight_kg,
        height_cm=protocol.height_cm,
        sex=protocol.sex,
        pk_model=protocol.pk_model,
    )


def _store(
    protocol: KetamineProtocol, computed: ComputedProtocol, policy: ClinicPolicy
) -> list[str]:
    """Copy the outputs and the policy onto the protocol; returns the output fields that moved."""
    values = {
        "dosing_weight_kg": computed.dosing_weight_kg,
        "total_mg": computed.plan.total_mg,
        "rate_mg_per_h": computed.plan.rate_mg_per_h,
        "rate_ml_per_h": computed.plan.rate_ml_per_h,
        "pump_rate_ml_per_h": computed.pump.rate_ml_per_h,
        "pump_rate_mg_per_h": computed.pump.rate_mg_per_h,
        "volume_ml": computed.plan.volume_ml,
        "rate_mg_per_kg_h": computed.plan.rate_mg_per_kg_h,
        "given_mg_per_kg": computed.plan.dose_mg_per_kg,
        "rate_capped": computed.plan.rate_capped,
        "uncapped_total_mg": computed.uncapped_total_mg,
        "policy_version": policy.version,
        "policy_values": policy.snapshot(),
    }
    moved = []
    for field, value in values.items():
        if getattr(protocol, field, None) != value:
            setattr(protocol, field, value)
            moved.append(field)
    return moved


@transaction.atomic
def protocol_save(
    *, actor: Actor, plan_id: str, expected_version: int, choice: ProtocolChoice
) -> KetamineProtocol:
    """Compute the draft's ketamine protocol from a template and store it with the policy used.

    A dose past the clinic's limits raises ``DoseRefusedError`` naming the limit, and nothing is
    saved: there is no override.
    """
    _writer(actor)
    plan = _locked_draft(actor, plan_id, expected_version)
    template = _template(plan.clinic_id, choice.template_id)
    policy = clinic_policy_current(clinic_id=plan.clinic_id)
    measured = _measured(plan.patient)
    inputs = ProtocolInputs(
        dosing_basis=choice.dosing_basis,
        dose_mg_per_kg=choice.dose_mg_per_kg,
        fixed_dose_mg=choice.fixed_dose_mg,
        duration_min=choice.duration_min,
        rate_cap_mg_per_h=template.rate_cap_mg_per_h,
        concentration_mg_per_ml=choice.concentration_mg_per_ml,
        weight_kg=measured.weight_kg,
        height_cm=measured.height_cm,
        sex=plan.patient.sex,
        pk_model=choice.pk_model,
    )
    computed = protocol_compute(
        inputs,
        limits=policy.dose_limits(),
        policy_version=policy.version,
        pump_resolution_ml_h=policy.pump_resolution_ml_h,
    )
    try:
        protocol = plan.protocol
        action = Action.UPDATE
    except KetamineProtocol.DoesNotExist:
        protocol = KetamineProtocol(plan=plan)
        action = Action.CREATE
    given = {
        "template": template,
        "template_name": template.name,
        "template_version": template.version,
        "source": template.source,
        "sessions_count": template.sessions_count,
        "pattern": template.pattern,
        "rate_cap_mg_per_h": template.rate_cap_mg_per_h,
        "dosing_basis": inputs.dosing_basis,
        "dose_mg_per_kg": inputs.dose_mg_per_kg,
        "fixed_dose_mg": inputs.fixed_dose_mg,
        "duration_min": inputs.duration_min,
        "concentration_mg_per_ml": inputs.concentration_mg_per_ml,
        "weight_kg": inputs.weight_kg,
        "height_cm": inputs.height_cm,
        "exam_id": measured.consultation_id,
        "exam_date": measured.exam_date,
        "sex": inputs.sex,
        "pk_model": inputs.pk_model,
    }
    changed = []
    for field, value in given.items():
        if getattr(protocol, field, None) != value:
            setattr(protocol, field, value)
            changed.append(field)
    changed += _store(protocol, computed, policy)
    if not changed:
        return protocol
    protocol.full_clean(exclude=["plan"])
    protocol.save()
    _bump(plan)
    audit_record(
        actor=actor,
        action=action,
        object_type="ketamine_protocol",
        object_id=plan.public_id,
        patient=plan.patient,
        detail={
            "fields": sorted(changed),
            "template": template.pk,
            "policy_version": policy.version,
        },
    )
    return protocol


# -- signing and revising ----------------------------------------------------------------------


@transaction.atomic
def plan_sign(*, actor: Actor, plan_id: str, expected_version: int) -> Plan:
    """Sign a draft: it becomes read-only and supersedes the patient's previous signed plan.

    The protocol is checked again against the clinic's current limits, which may have changed
    since it was computed: a dose past them is refused (``DoseRefusedError``), nothing signed.
    """
    _writer(actor)
    plan = _locked_draft(actor, plan_id, expected_version)
    missing = {}
    if not plan.goals:
        missing["goals"] = "Write the plan's goals before signing."
    if plan.review_date is None:
        missing["review_date"] = "Set a review date before signing."
    if missing:
        raise ValidationError(missing)
    _check_review_date(plan.review_date)
    detail: dict[str, object] = {"number": plan.number}
    try:
        protocol: KetamineProtocol | None = plan.protocol
    except KetamineProtocol.DoesNotExist:
        protocol = None
    if protocol is not None:
        # Gate 1: a ketamine protocol is signed only under an eligibility decision in force.
        in_force = require_eligibility_in_force(
            patient=plan.patient,
            today=timezone.localdate(),
            action="sign a plan with a ketamine protocol",
        )
        detail["eligibility_decision"] = in_force.decision.decision_id if in_force.decision else ""
        policy = clinic_policy_current(clinic_id=plan.clinic_id)
        # Gate 2: the dose rests on the newest exam's measured weight, recent enough.
        measured = _measured(plan.patient)
        _check_exam_for_signing(
            protocol,
            measured,
            today=timezone.localdate(),
            max_age_days=policy.exam_weight_max_age_days,
        )
        detail["exam_date"] = measured.exam_date.isoformat()
        detail["exam_weight_max_age_days"] = policy.exam_weight_max_age_days
        computed = protocol_compute(
            _inputs_of(protocol),
            limits=policy.dose_limits(),
            policy_version=policy.version,
            pump_resolution_ml_h=policy.pump_resolution_ml_h,
        )
        if _store(protocol, computed, policy):
            protocol.full_clean(exclude=["plan"])
            protocol.save()
        detail["policy_version"] = policy.version
    previous = list(
        Plan.objects.select_for_update()
        .filter(patient=plan.patient, status=PlanStatus.SIGNED)
        .exclude(pk=plan.pk)
    )
    for old in previous:
        old.status = PlanStatus.SUPERSEDED
        old.version = F("version") + 1
        old.save(update_fields=["status", "version", "updated_at"])
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="plan",
            object_id=old.public_id,
            patient=plan.patient,
            detail={"fields": ["status"], "superseded_by": str(plan.public_id)},
        )
    if protocol is not None and previous:
        # Gate 3: the revised plan replaces the old plan's remaining booked sessions (cancelled,
        # the patient emailed by the scheduling app) instead of a second series beside them.
        replaced = series_replace_for_revision(
            actor=actor, superseded_plan_ids=[old.pk for old in previous]
        )
        if replaced:
            detail["replaced_series"] = replaced
    plan.status = PlanStatus.SIGNED
    plan.signed_by = actor.user
    plan.signed_at = timezone.now()
    plan.version = F("version") + 1
    plan.save()
    plan.refresh_from_db()
    if previous:
        detail["supersedes"] = [str(old.public_id) for old in previous]
    audit_record(
        actor=actor,
        action=Action.SIGN,
        object_type="plan",
        object_id=plan.public_id,
        patient=plan.patient,
        detail=detail,
    )
    return plan


@transaction.atomic
def plan_revise(*, actor: Actor, plan_id: str, expected_version: int) -> Plan:
    """A new draft (number + 1) copying a signed plan's components and protocol."""
    _writer(actor)
    assert actor.user is not None
    found = access_plan(actor.user, plan_id, for_write=True)
    _lock_patient(found.patient)
    source = Plan.objects.select_for_update().select_related("patient").get(pk=found.pk)
    if source.version != expected_version:
        raise StaleObjectError("plan")
    if source.status != PlanStatus.SIGNED:
        raise ValidationError("Only the current signed plan can be revised.", code="not_signed")
    if Plan.objects.filter(patient=source.patient, status=PlanStatus.DRAFT).exists():
        raise _draft_exists_error(source.patient)
    draft = Plan(
        clinic_id=source.clinic_id,
        patient=source.patient,
        number=_next_number(source.patient),
        goals=source.goals,
        review_date=source.review_date,
        supersedes=source,
        created_by=actor.user,
    )
    draft.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            draft.save()
    except IntegrityError:
        raise _draft_exists_error(source.patient) from None
    PlanComponent.objects.bulk_create(
        PlanComponent(plan=draft, code=c.code, details=c.details) for c in source.components.all()
    )
    try:
        protocol: KetamineProtocol | None = source.protocol
    except KetamineProtocol.DoesNotExist:
        protocol = None
    if protocol is not None:
        # A copy keeps the policy it was checked with; signing the draft checks it again.
        protocol.pk = None
        protocol.id = None
        protocol._state.adding = True
        protocol.plan = draft
        protocol.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="plan",
        object_id=draft.public_id,
        patient=source.patient,
        detail={"number": draft.number, "revises": str(source.public_id)},
    )
    return draft
