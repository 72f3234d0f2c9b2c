"""Condition: the causes of the pain a consultation names (``assessments.Cause``), coded in
SNOMED CT or ICD-10-CM from the project's code table (``clinical/codes.py``), each an
encounter diagnosis of its consultation (``Encounter/<consultation id>``). Clinical content:
the clinic's nurses, physicians and admins read them, and its backend systems; not the patient
(no page shows her the notes) nor the front desk (``FhirReader.chart_patients``).

As honest as the record is: ``verificationStatus`` is ``confirmed`` once the physician signed
the consultation and ``provisional`` while it is a draft; ``clinicalStatus`` is left out (the
record says what caused the pain on the exam date, not whether the condition is active now;
R4 asks for it only on problem-list items, con-3); ``recordedDate`` is the exam date and the
``recorder`` the physician who signed (a draft names nobody who answers for its causes).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from ketaclinic.assessments.models import Cause, ConsultationStatus
from ketaclinic.clinical import codes
from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.resources.base import ResourceType, instant, pruned, reference
from ketaclinic.fhir.resources.encounter import fixed_token
from ketaclinic.fhir.search import Param, dates, subject_params

CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-category"
ENCOUNTER_DIAGNOSIS = {
    "coding": [
        {"system": CATEGORY_SYSTEM, "code": "encounter-diagnosis", "display": "Encounter Diagnosis"}
    ]
}
VERIFICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_VERIFICATION = {True: ("confirmed", "Confirmed"), False: ("provisional", "Provisional")}
# A cause's system key (``clinical.codes``) by its FHIR system URI, and back.
_KEYS = {codes.SYSTEMS[key].uri: key for key in codes.CAUSE_SYSTEMS}


def _causes(reader: FhirReader) -> QuerySet[Cause]:
    return Cause.objects.filter(
        consultation__clinic_id=reader.clinic_id,
        consultation__patient__in=reader.chart_patients(),
    ).select_related("consultation__patient__clinic", "consultation__signed_by")


def condition(row: Cause) -> dict[str, Any]:
    consultation = row.consultation
    signed = consultation.status == ConsultationStatus.SIGNED
    verification, shown = _VERIFICATION[signed]
    return pruned(
        {
            "resourceType": "Condition",
            "id": str(row.public_id),
            # A cause changes only with its consultation's save, in the same transaction.
            "meta": {"lastUpdated": instant(consultation.updated_at)},
            "verificationStatus": {
                "coding": [{"system": VERIFICATION_SYSTEM, "code": verification, "display": shown}]
            },
            "category": [ENCOUNTER_DIAGNOSIS],
            "code": {
                "coding": [
                    {
                        "system": codes.SYSTEMS[row.system].uri,
                        "code": row.code,
                        "display": row.display,
                    }
                ],
                "text": row.display,
            },
            "subject": reference("Patient", consultation.patient),
            "encounter": reference("Encounter", consultation),
            "recordedDate": consultation.exam_date.isoformat(),
            "recorder": reference("Practitioner", consultation.signed_by if signed else None),
        }
    )


def _code(qs: QuerySet[Cause], given: list[str]) -> QuerySet[Cause]:
    """``code`` in any cause system, or ``system|code`` in that one (a system the table does
    not code causes in matches nothing)."""
    match = Q(pk__in=[])
    for value in given:
        system, bar, code = value.rpartition("|")
        if bar and system:
            key = _KEYS.get(system)
            if key is not None:
                match |= Q(system=key, code=code)
        else:
            match |= Q(code=code)
    return qs.filter(match)


CONDITION = ResourceType(
    name="Condition",
    rows=_causes,
    to_fhir=condition,
    params={
        **subject_params("consultation__patient__public_id"),
        "code": Param(
            "token",
            _code,
            "http://snomed.info/sct|[code] or http://hl7.org/fhir/sid/icd-10-cm|[code], or the"
            " code alone.",
        ),
        "category": Param(
            "token",
            fixed_token("encounter-diagnosis", CATEGORY_SYSTEM),
            "encounter-diagnosis (every cause is one).",
        ),
        "recorded-date": Param(
            "date",
            dates("consultation__exam_date", param="recorded-date", day_field=True),
            "The consultation's exam date.",
        ),
    },
    updated_field="consultation__updated_at",
    patient_of=lambda row: row.consultation.patient,
    includes={"Condition:patient": ("Patient", lambda row: row.consultation.patient)},
    doc="The causes of the pain a consultation names (SNOMED CT, ICD-10-CM).",
)
