"""Observation: what a patient reports in her pain diary (the daily pain score, NRS 0-10, LOINC
72514-3; the weekly PEG and the PGIC, which have no LOINC code in the project's table and carry
the clinic's own instrument code). Clinical content: the clinic's nurses, physicians and admins
read it, and the patient her own; the front desk does not, as on the pages."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from ketaclinic.clinical import codes
from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.resources.base import ResourceType, instant, pruned, reference
from ketaclinic.fhir.search import Param, dates, ids, tokens
from ketaclinic.outcomes.models import DiaryEntry, Instrument

INSTRUMENT_SYSTEM = "https://ketaclinic.org/fhir/CodeSystem/diary-instrument"
SURVEY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "survey",
            "display": "Survey",
        }
    ]
}
UCUM = "http://unitsofmeasure.org"


def _entries(reader: FhirReader) -> QuerySet[DiaryEntry]:
    return DiaryEntry.objects.filter(
        clinic_id=reader.clinic_id, patient__in=reader.clinical_patients()
    ).select_related("patient__clinic")


def _code(entry: DiaryEntry) -> dict[str, Any]:
    label = str(Instrument(entry.instrument).label)
    own = {"system": INSTRUMENT_SYSTEM, "code": entry.instrument, "display": label}
    if entry.loinc:
        loinc = codes.lookup(codes.LOINC.key, entry.loinc, field="loinc")
        first = {"system": codes.LOINC.uri, "code": loinc.code, "display": loinc.display}
        return {"coding": [first, own], "text": label}
    return {"coding": [own], "text": label}


def observation(entry: DiaryEntry) -> dict[str, Any]:
    patient = reference("Patient", entry.patient)
    return pruned(
        {
            "resourceType": "Observation",
            "id": str(entry.public_id),
            "meta": {"lastUpdated": instant(entry.updated_at)},
            "status": "final",
            "category": [SURVEY],
            "code": _code(entry),
            "subject": patient,
            # The patient's own calendar day: a date, as she recorded it.
            "effectiveDateTime": entry.entry_date.isoformat(),
            "issued": instant(entry.created_at),
            "performer": [patient],
            "valueQuantity": {
                "value": entry.score,
                "unit": "score",
                "system": UCUM,
                "code": "{score}",
            },
            "note": [{"text": entry.note}] if entry.note else [],
        }
    )


def _category(qs: QuerySet[DiaryEntry], given: list[str]) -> QuerySet[DiaryEntry]:
    wanted = {value.rsplit("|", 1)[-1] for value in given}
    return qs if "survey" in wanted else qs.none()


_CODES = {
    **{instrument.value: instrument.value for instrument in Instrument},
    "72514-3": Instrument.NRS.value,
}

OBSERVATION = ResourceType(
    name="Observation",
    rows=_entries,
    to_fhir=observation,
    params={
        "patient": Param("reference", ids("patient__public_id"), "Patient/[id]."),
        "subject": Param("reference", ids("patient__public_id"), "Patient/[id] (the subject)."),
        "code": Param(
            "token",
            tokens("instrument", _CODES),
            "http://loinc.org|72514-3 (the daily pain score), or the diary instrument: nrs,"
            " peg, pgic.",
        ),
        "category": Param("token", _category, "survey (every diary entry is one)."),
        "date": Param(
            "date", dates("entry_date", param="date", day_field=True), "The day it is about."
        ),
    },
    updated_field="updated_at",
    patient_of=lambda row: row.patient,
    includes={"Observation:patient": ("Patient", lambda row: row.patient)},
    doc="The pain diary: daily pain scores (LOINC 72514-3), weekly PEG and PGIC.",
)
