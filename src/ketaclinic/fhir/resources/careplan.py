"""CarePlan: the comprehensive plan (``plans.Plan``), its medicines and non-drug treatments as
activities, and its ketamine protocol as an activity that points to the MedicationRequest of the
same id. Clinical content: the clinic's nurses, physicians and admins read every plan, as the
plan pages show them; a patient reads her own signed plans (the one in force and the ones it
replaced) and never a draft, as her plan summary shows only a signed plan; the front desk reads
none."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.resources.base import ResourceType, instant, pruned, reference, typed_text
from ketaclinic.fhir.search import Param, dates, subject_params, tokens
from ketaclinic.plans.api import protocol_of
from ketaclinic.plans.models import Plan, PlanComponent, PlanStatus

# The plan's parts in the clinic's own words: medicines and non-drug treatments have no codes in
# the project's code tables (ketaclinic/clinical/codes.py), so they carry the plan's own codes.
COMPONENT_SYSTEM = "https://ketaclinic.org/fhir/CodeSystem/plan-component"

# http://hl7.org/fhir/request-status. R4 has no "superseded" for a care plan: a plan replaced by
# a newer signed one was ended before its course ran out ("revoked"), and the newer plan names
# it in ``replaces``.
STATUSES = {
    PlanStatus.DRAFT: "draft",
    PlanStatus.SIGNED: "active",
    PlanStatus.SUPERSEDED: "revoked",
}


def plans_of(reader: FhirReader) -> QuerySet[Plan]:
    """Every plan the reader may see: the plan pages' rule (clinical staff of the clinic, not
    the front desk), and for a patient her own plans once signed (``plans.access``: drafts are
    the physician's work in progress and never show to her)."""
    rows = Plan.objects.filter(clinic_id=reader.clinic_id, patient__in=reader.clinical_patients())
    user = reader.user
    if user is not None and user.is_patient:
        rows = rows.exclude(status=PlanStatus.DRAFT)
    return rows


def _care_plans(reader: FhirReader) -> QuerySet[Plan]:
    return (
        plans_of(reader)
        .select_related("patient__clinic", "signed_by", "created_by", "supersedes", "protocol")
        .prefetch_related("components")
    )


def _activity(plan: Plan, component: PlanComponent) -> dict[str, Any]:
    label = str(component.get_code_display())
    concept = {
        "coding": [{"system": COMPONENT_SYSTEM, "code": component.code, "display": label}],
        "text": label,
    }
    medicine = component.is_medication
    return {
        "detail": {
            "kind": "MedicationRequest" if medicine else "ServiceRequest",
            "code": None if medicine else concept,
            "productCodeableConcept": concept if medicine else None,
            # The plan records what the physician prescribed, not how far the patient got with
            # it: a draft's parts have not started, a signed plan's progress is not recorded.
            "status": "not-started" if plan.status == PlanStatus.DRAFT else "unknown",
            # The physician's own instructions (dose, titration, number of sessions).
            "description": typed_text(component.details),
        }
    }


def care_plan(plan: Plan) -> dict[str, Any]:
    activities: list[dict[str, Any]] = []
    if protocol_of(plan) is not None:
        activities.append({"reference": reference("MedicationRequest", plan)})
    activities += [_activity(plan, component) for component in plan.components.all()]
    return pruned(
        {
            "resourceType": "CarePlan",
            "id": str(plan.public_id),
            "meta": {"lastUpdated": instant(plan.updated_at)},
            "status": STATUSES[PlanStatus(plan.status)],
            "intent": "plan",
            "title": f"Treatment plan {plan.number}",
            "description": typed_text(plan.goals),
            "subject": reference("Patient", plan.patient),
            # In force from its signature; a draft is not in force.
            "period": {"start": instant(plan.signed_at)} if plan.signed_at else None,
            "created": instant(plan.created_at),
            # Who answers for the plan: the physician who signed it, or who is writing it.
            "author": reference("Practitioner", plan.signed_by or plan.created_by),
            "replaces": [reference("CarePlan", plan.supersedes)],
            "activity": activities,
            "note": (
                [{"text": f"Review by {plan.review_date.isoformat()}."}] if plan.review_date else []
            ),
        }
    )


CAREPLAN = ResourceType(
    name="CarePlan",
    rows=_care_plans,
    to_fhir=care_plan,
    params={
        **subject_params(),
        "status": Param(
            "token",
            tokens("status", {code: status.value for status, code in STATUSES.items()}),
            "draft, active (signed, in force) or revoked (replaced by a newer plan).",
        ),
        "date": Param(
            "date", dates("signed_at", param="date"), "When the plan came into force (signed)."
        ),
    },
    updated_field="updated_at",
    patient_of=lambda row: row.patient,
    includes={"CarePlan:patient": ("Patient", lambda row: row.patient)},
    doc=(
        "The comprehensive plan: medicines and non-drug treatments, and the ketamine protocol"
        " (a MedicationRequest of the same id)."
    ),
)
