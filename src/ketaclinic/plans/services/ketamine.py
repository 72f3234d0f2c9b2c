"""The draft's ketamine protocol: computed from a clinic template on the latest exam's measured
weight, within the clinic's dose limits, and stored with the policy it was checked under.

Also gate 2's checks that signing repeats (``measured_exam``, ``check_exam_for_signing``): the
dose rests on a measured weight, never a typed one (docs/clinical-policy.md "Gates along the
journey (added 2026-12-03)", item 2).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from ketaclinic.assessments.api import ExamMeasurements, latest_exam_measurements
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinics.api import clinic_policy_current, protocol_templates_active
from ketaclinic.clinics.models import ClinicPolicy, ProtocolTemplate
from ketaclinic.lib.locking import bump_version
from ketaclinic.patients.models import Patient
from ketaclinic.plans.models import KetamineProtocol
from ketaclinic.plans.protocol import ComputedProtocol, ProtocolInputs, protocol_compute
from ketaclinic.plans.selectors import protocol_of
from ketaclinic.plans.services._common import locked_draft, writer


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


def measured_exam(patient: Patient) -> ExamMeasurements:
    """The newest exam that measured weight and height, or ``DosingWeightGateError``."""
    found = latest_exam_measurements(patient=patient)
    if found is None:
        raise DosingWeightGateError(
            "no exam records the patient's weight and height. Record both at a consultation; "
            "the dose is computed from the exam, never from a typed weight."
        )
    return found


def check_exam_for_signing(
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


def inputs_of(protocol: KetamineProtocol) -> ProtocolInputs:
    """The inputs a stored protocol was computed from, to compute it again."""
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


def _assign(protocol: KetamineProtocol, values: Mapping[str, object]) -> list[str]:
    """Set the values that differ on the protocol; returns their names."""
    moved = []
    for field, value in values.items():
        if getattr(protocol, field, None) != value:
            setattr(protocol, field, value)
            moved.append(field)
    return moved


def store_outputs(
    protocol: KetamineProtocol, computed: ComputedProtocol, policy: ClinicPolicy
) -> list[str]:
    """Copy the outputs and the policy onto the protocol; returns the output fields that moved."""
    return _assign(
        protocol,
        {
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
        },
    )


def compute_under(inputs: ProtocolInputs, policy: ClinicPolicy) -> ComputedProtocol:
    """The protocol computed within ``policy``'s limits (``DoseRefusedError`` past them)."""
    return protocol_compute(
        inputs,
        limits=policy.dose_limits(),
        policy_version=policy.version,
        pump_resolution_ml_h=policy.pump_resolution_ml_h,
    )


@transaction.atomic
def protocol_save(
    *, actor: Actor, plan_id: str, expected_version: int, choice: ProtocolChoice
) -> KetamineProtocol:
    """Compute the draft's ketamine protocol from a template and store it with the policy used.

    A dose past the clinic's limits raises ``DoseRefusedError`` naming the limit, and nothing is
    saved: there is no override.
    """
    writer(actor)
    plan = locked_draft(actor, plan_id, expected_version)
    template = _template(plan.clinic_id, choice.template_id)
    policy = clinic_policy_current(clinic_id=plan.clinic_id)
    measured = measured_exam(plan.patient)
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
    computed = compute_under(inputs, policy)
    protocol = protocol_of(plan)
    action = Action.CREATE if protocol is None else Action.UPDATE
    protocol = protocol or KetamineProtocol(plan=plan)
    changed = _assign(
        protocol,
        {
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
        },
    )
    changed += store_outputs(protocol, computed, policy)
    if not changed:
        return protocol
    protocol.full_clean(exclude=["plan"])
    protocol.save()
    bump_version(plan, fields=())
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
