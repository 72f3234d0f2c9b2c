"""Observation: what a patient reports in her pain diary (the daily pain score, NRS 0-10, LOINC
72514-3; the weekly PEG and the PGIC, which have no LOINC code in the project's table and carry
the clinic's own instrument code). Clinical content: the clinic's nurses, physicians and admins
read it, and the patient her own; the front desk does not, as on the pages.

The diary is the Observation type's first table (``registry.OBSERVATION``; the infusion chart's
values and the exam's measurements join it), so this ``ResourceType``'s ``doc`` and parameter
docs are the whole type's in the CapabilityStatement: they describe all three tables (the
further tables' own docs describe each alone, and are not published)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from ketaclinic.clinical import codes
from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.resources.base import ResourceType, instant, pruned, reference, typed_text
from ketaclinic.fhir.search import Param, dates, subject_params, tokens
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


def _entries_exported(reader: FhirReader) -> QuerySet[DiaryEntry]:
    # What ``observation`` reads, and no more (a test compares the two renderings).
    return (
        _entries(reader)
        .select_related(None)
        .select_related("patient")
        .only(*EXPORTED_FIELDS, "patient__public_id")
    )


EXPORTED_FIELDS = (
    "public_id", "updated_at", "instrument", "loinc", "entry_date", "version", "score", "note",
)  # fmt: skip


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
            "status": "amended" if entry.version > 1 else "final",
            "category": [SURVEY],
            "code": _code(entry),
            "subject": patient,
            # The patient's own calendar day: a date, as she recorded it.
            "effectiveDateTime": entry.entry_date.isoformat(),
            # When this value was recorded: a score replaced later is issued then, amended.
            "issued": instant(entry.updated_at),
            "performer": [patient],
            "valueQuantity": {
                "value": entry.score,
                "unit": "score",
                "system": UCUM,
                "code": "{score}",
            },
            "note": [{"text": typed_text(entry.note)}] if entry.note else [],
        }
    )


def _category(qs: QuerySet[DiaryEntry], given: list[str]) -> QuerySet[DiaryEntry]:
    wanted = {value.rsplit("|", 1)[-1] for value in given}
    return qs if "survey" in wanted else qs.none()


_CODES = {
    **{instrument.value: instrument.value for instrument in Instrument},
    "72514-3": Instrument.NRS.value,
}
# Each code's system, which a ``system|code`` search must name (as the other tables' do).
_SYSTEMS = {
    **{instrument.value: INSTRUMENT_SYSTEM for instrument in Instrument},
    "72514-3": codes.LOINC.uri,
}

OBSERVATION = ResourceType(
    name="Observation",
    rows=_entries,
    export_rows=_entries_exported,
    to_fhir=observation,
    params={
        **subject_params(),
        # The docs speak for the three tables of the type (see the module docstring).
        "code": Param(
            "token",
            tokens("instrument", _CODES, _SYSTEMS),
            "A LOINC code (http://loinc.org): 72514-3, the pain score (the diary's daily"
            " score, the chart's, the exam's pain now); 8480-6, 8462-4, 8867-4, 9279-1, and"
            " 2708-6 or 59408-5 (oxygen saturation, either code), the vital signs of the chart"
            " and the exam; 8310-5, 8302-2, 29463-7, 39156-5, the exam's temperature, height,"
            " weight and BMI. Or the clinic's own code: a diary instrument, nrs, peg or pgic"
            f" ({INSTRUMENT_SYSTEM}); a bedside scale of the chart, rass, moaas, cadss6 or"
            " aldrete (https://ketaclinic.org/fhir/CodeSystem/chart-scale).",
        ),
        "category": Param(
            "token",
            _category,
            "survey: every diary entry, the chart's pain scores and bedside scales, and the"
            " exam's pain now; vital-signs: the chart's vital signs and the exam's other"
            " measurements.",
        ),
        "date": Param(
            "date",
            dates("entry_date", param="date", day_field=True),
            "The day a diary entry is about, the exam's day, or when a chart value was taken.",
        ),
    },
    updated_field="updated_at",
    patient_of=lambda row: row.patient,
    includes={"Observation:patient": ("Patient", lambda row: row.patient)},
    doc=(
        "Three records: the pain diary (the daily pain score, LOINC 72514-3; the weekly PEG"
        " and the PGIC, by the clinic's instrument codes), all survey; the infusion chart"
        " (vital signs by LOINC with the R4 vital-signs profiles, vital-signs; the pain score"
        " and the bedside scales RASS, MOAA/S, CADSS-6 and modified Aldrete, survey); and a"
        " consultation's exam (vital signs and body measurements by LOINC with their R4"
        " profiles, vital-signs; the pain now, survey). A patient reads her own diary; the"
        " chart and the exam are clinical notes, read by the clinic's clinical staff and"
        " backend systems only."
    ),
)
