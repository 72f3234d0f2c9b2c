"""MedicationRequest: a plan's ketamine protocol (``plans.KetamineProtocol``, one per plan at
most), with the plan's public id as its id (ids are per type: the CarePlan of the same id is the
plan it belongs to). Ketamine is RxNorm 6130 (ketaclinic/clinical/codes.py); the dose is the
protocol's as stored (per kg or fixed, the session's total and rate, the infusion's duration and
the number of sessions), in UCUM units. Clinical content, read as the plan is
(``careplan.plans_of``): clinical staff, the patient her own signed plans, not the front desk."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.db.models.functions import Coalesce

from ketaclinic.clinical import codes
from ketaclinic.clinics.models import SeriesPattern
from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.resources.base import ResourceType, instant, pruned, reference
from ketaclinic.fhir.resources.careplan import plans_of
from ketaclinic.fhir.search import Param, dates, subject_params, tokens
from ketaclinic.plans.api import protocol_of
from ketaclinic.plans.models import KetamineProtocol, Plan, PlanStatus

UCUM = "http://unitsofmeasure.org"
DOSE_RATE_TYPE = "http://terminology.hl7.org/CodeSystem/dose-rate-type"
CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"

# http://hl7.org/fhir/CodeSystem/medicationrequest-status. A plan replaced by a newer signed one
# had its protocol halted before every session was necessarily given: "stopped". Whether a
# signed protocol's series is over is not recorded on the plan, so none reads "completed".
STATUSES = {
    PlanStatus.DRAFT: "draft",
    PlanStatus.SIGNED: "active",
    PlanStatus.SUPERSEDED: "stopped",
}

# When the sessions of a series fall (clinics.SeriesPattern): one session a day, on these days.
WEEKDAYS = {
    SeriesPattern.WEEKDAYS: ["mon", "tue", "wed", "thu", "fri"],
    SeriesPattern.DAILY: [],
    SeriesPattern.THREE_PER_WEEK: ["mon", "wed", "fri"],
}


def _protocols(reader: FhirReader) -> QuerySet[Plan]:
    # The rows are the plans that have a protocol: the plan's public id is the resource's id and
    # its paging key. ``authored`` is when the prescription was written: signed, or (a draft)
    # begun.
    return (
        plans_of(reader)
        .filter(protocol__isnull=False)
        .annotate(authored=Coalesce("signed_at", "created_at"))
        .select_related("patient__clinic", "signed_by", "protocol", "supersedes__protocol")
    )


def _number(value: Any) -> float | None:
    # The stored floats rounded as the plan pages show them, so 52.49999999 reads 52.5.
    return None if value is None else round(float(value), 3)


def _quantity(value: Any, unit: str) -> dict[str, Any] | None:
    number = _number(value)
    if number is None:
        return None
    return {"value": number, "unit": unit, "system": UCUM, "code": unit}


def _rate_type(code: str) -> dict[str, Any]:
    return {"coding": [{"system": DOSE_RATE_TYPE, "code": code, "display": code.capitalize()}]}


def _figure(value: float) -> str:
    return f"{round(float(value), 3):g}"


def _text(protocol: KetamineProtocol) -> str:
    """The instruction in plain words, from the same stored values as the structured dose."""
    if protocol.dose_mg_per_kg is not None:
        dose = (
            f"{_figure(protocol.dose_mg_per_kg)} mg/kg for a dosing weight of"
            f" {_figure(protocol.dosing_weight_kg)} kg"
        )
    else:
        dose = f"{_figure(protocol.fixed_dose_mg or 0)} mg"
    sessions = protocol.sessions_count
    pattern = str(SeriesPattern(protocol.pattern).label)
    text = (
        f"Ketamine intravenous infusion: {dose}, {_figure(protocol.total_mg)} mg a session at"
        f" {_figure(protocol.rate_mg_per_h)} mg/h over {protocol.duration_min} min;"
        f" {sessions} session{'s' if sessions != 1 else ''}, {pattern[:1].lower()}{pattern[1:]}."
    )
    if protocol.rate_capped and protocol.uncapped_total_mg is not None:
        text += (
            f" The rate cap of {_figure(protocol.rate_cap_mg_per_h or 0)} mg/h lowered the dose"
            f" from {_figure(protocol.uncapped_total_mg)} mg."
        )
    return text


def _dosage(protocol: KetamineProtocol) -> dict[str, Any]:
    ordered = (
        _quantity(protocol.dose_mg_per_kg, "mg/kg")
        if protocol.dose_mg_per_kg is not None
        else _quantity(protocol.fixed_dose_mg, "mg")
    )
    return {
        "sequence": 1,
        "text": _text(protocol),
        "timing": {
            "repeat": {
                # The series: this many sessions, one a day on the pattern's days, each an
                # infusion of this many minutes.
                "count": protocol.sessions_count,
                "duration": protocol.duration_min,
                "durationUnit": "min",
                "frequency": 1,
                "period": 1,
                "periodUnit": "d",
                "dayOfWeek": WEEKDAYS[SeriesPattern(protocol.pattern)],
            }
        },
        "route": {"text": "Intravenous"},
        "method": {"text": "Infusion"},
        "doseAndRate": [
            # As prescribed: per kg of dosing weight, or a fixed amount.
            {"type": _rate_type("ordered"), "doseQuantity": ordered},
            # As computed for this patient within the clinic's limits: the session's total and
            # the rate that gives it over the duration.
            {
                "type": _rate_type("calculated"),
                "doseQuantity": _quantity(protocol.total_mg, "mg"),
                "rateQuantity": _quantity(protocol.rate_mg_per_h, "mg/h"),
            },
            # The same per kg of dosing weight, as given after any rate cap (stored by the
            # protocol computation; absent on protocols saved before it was).
            {
                "type": _rate_type("calculated"),
                "doseQuantity": _quantity(protocol.given_mg_per_kg, "mg/kg"),
                "rateQuantity": _quantity(protocol.rate_mg_per_kg_h, "mg/kg/h"),
            }
            if protocol.rate_mg_per_kg_h is not None
            else None,
        ],
    }


def medication_request(plan: Plan) -> dict[str, Any]:
    protocol = protocol_of(plan)
    assert protocol is not None  # the rows are plans with a protocol
    ketamine = codes.lookup(codes.RXNORM.key, "6130", field="medication")
    previous = plan.supersedes
    return pruned(
        {
            "resourceType": "MedicationRequest",
            "id": str(plan.public_id),
            "meta": {"lastUpdated": instant(plan.updated_at)},
            "status": STATUSES[PlanStatus(plan.status)],
            # A physician's order for this patient. Unsigned, it is still that order, not yet
            # actionable: R4 says so with the status (draft), not with another intent.
            "intent": "order",
            "category": [
                {"coding": [{"system": CATEGORY, "code": "outpatient", "display": "Outpatient"}]}
            ],
            "medicationCodeableConcept": {
                "coding": [
                    {"system": codes.RXNORM.uri, "code": ketamine.code, "display": ketamine.display}
                ],
                "text": ketamine.display,
            },
            "subject": reference("Patient", plan.patient),
            "authoredOn": instant(plan.authored),  # type: ignore[attr-defined]
            # Who ordered it: the physician who signed the plan (a draft is ordered by no one yet).
            "requester": reference("Practitioner", plan.signed_by),
            "basedOn": [reference("CarePlan", plan)],
            "priorPrescription": (
                reference("MedicationRequest", previous)
                if previous is not None and protocol_of(previous) is not None
                else None
            ),
            "note": [{"text": f"Protocol: {protocol.template_name.rstrip('.')}."}]
            if protocol.template_name
            else [],
            "dosageInstruction": [_dosage(protocol)],
        }
    )


def _code(qs: QuerySet[Plan], given: list[str]) -> QuerySet[Plan]:
    # Every request here is for ketamine: RxNorm 6130 matches them all, any other code none.
    for value in given:
        system, _, code = value.rpartition("|")
        if code == "6130" and system in ("", codes.RXNORM.uri):
            return qs
    return qs.none()


MEDICATION_REQUEST = ResourceType(
    name="MedicationRequest",
    rows=_protocols,
    to_fhir=medication_request,
    params={
        **subject_params(),
        "status": Param(
            "token",
            tokens("status", {code: status.value for status, code in STATUSES.items()}),
            "draft, active (signed, in force) or stopped (its plan replaced by a newer one).",
        ),
        "authoredon": Param(
            "date",
            dates("authored", param="authoredon"),
            "When it was written: signed, or for a draft begun.",
        ),
        "code": Param(
            "token",
            _code,
            f"{codes.RXNORM.uri}|6130 (ketamine: every request here).",
        ),
    },
    updated_field="updated_at",
    patient_of=lambda row: row.patient,
    includes={"MedicationRequest:patient": ("Patient", lambda row: row.patient)},
    doc="The ketamine protocol of each plan (RxNorm 6130): dose, rate, duration and sessions.",
)
