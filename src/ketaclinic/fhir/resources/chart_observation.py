"""Observation, from the infusion chart: each value a nurse charted at the chair (one stored row,
one resource), in the encounter of its session.

Vital signs carry their LOINC code and UCUM unit and claim the HL7 R4 vital-signs profiles
(category vital-signs): heart rate, respiratory rate and oxygen saturation their own profiles
(SpO2, stored as 59408-5, also carries 2708-6, the code the oxygensat profile requires).
Systolic and diastolic pressure are stored as two rows, so they are two Observations claiming
only the generic vital-signs profile: the bp profile wants one Observation with both as
components, which would make one id stand for two rows (and a search by the diastolic code find
the systolic row). The pain NRS (LOINC 72514-3) and the bedside scales (RASS, MOAA/S, CADSS-6,
modified Aldrete) are category survey, as the diary's scores are; the scales have no LOINC code
in the project's table (``clinical.codes``), so they carry the clinic's own scale code, and a
scale of several items gives each item's answer as a component.

Clinical notes: the clinic's nurses, physicians and admins read them, and its backend systems;
not the patient nor the front desk, as on the pages (``FhirReader.chart_patients``). It is a
further table of the Observation type (``registry.OBSERVATION``) and takes the diary's search
parameters.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet

from ketaclinic.clinical import codes, instruments
from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.resources.base import UNIT_WORDS, ResourceType, instant, pruned, reference
from ketaclinic.fhir.resources.observation import SURVEY, UCUM
from ketaclinic.fhir.search import Param, dates, subject_params
from ketaclinic.infusions.models import Observation

SCALE_SYSTEM = "https://ketaclinic.org/fhir/CodeSystem/chart-scale"
SCALE_ITEM_SYSTEM = "https://ketaclinic.org/fhir/CodeSystem/chart-scale-item"
VITAL_SIGNS = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs",
            "display": "Vital Signs",
        }
    ]
}
PROFILE = "http://hl7.org/fhir/StructureDefinition/{}"
NRS = "72514-3"
SPO2_PULSE_OX = "59408-5"
SPO2 = "2708-6"  # what the oxygensat profile requires; the chart stores the pulse-oximetry code
# The R4 vital-signs profile each stored LOINC code claims (observation-vitalsigns.html); a
# vital sign not named here claims the generic one.
PROFILES = {
    "8867-4": "heartrate",
    "9279-1": "resprate",
    SPO2_PULSE_OX: "oxygensat",
    SPO2: "oxygensat",
    "8310-5": "bodytemp",
    "8302-2": "bodyheight",
    "29463-7": "bodyweight",
    "39156-5": "bmi",
}


def _rows(reader: FhirReader) -> QuerySet[Observation]:
    return Observation.objects.filter(
        session__clinic_id=reader.clinic_id, patient__in=reader.chart_patients()
    ).select_related("patient__clinic", "session", "entry__recorded_by")


def _is_survey(row: Observation) -> bool:
    return row.system != codes.LOINC.key or row.code == NRS


# Stored as "the clinic's scale" (any system but LOINC) or as the pain NRS: the survey rows.
_SURVEY_ROWS = ~Q(system=codes.LOINC.key) | Q(code=NRS)


def _loinc(code: str) -> dict[str, str]:
    found = codes.lookup(codes.LOINC.key, code, field="code")
    return {"system": codes.LOINC.uri, "code": found.code, "display": found.display}


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _components(row: Observation) -> list[dict[str, Any]]:
    """A scale's item answers, each its own component (the Aldrete's five domains, CADSS-6's
    six items); none for a one-item scale, whose answer is the value itself."""
    scale = instruments.get_instrument(row.code)
    if len(scale.items) < 2:
        return []
    found = []
    for item in scale.items:
        if item.key not in row.components:
            continue
        found.append(
            {
                "code": {
                    "coding": [
                        {
                            "system": SCALE_ITEM_SYSTEM,
                            "code": f"{scale.code}.{item.key}",
                            "display": item.wording,
                        }
                    ],
                    "text": item.wording,
                },
                "valueInteger": int(row.components[item.key]),
            }
        )
    return found


def chart_observation(row: Observation) -> dict[str, Any]:
    entry = row.entry
    if row.system == codes.LOINC.key:
        coding = [_loinc(row.code)]
        if row.code == SPO2_PULSE_OX:
            coding.insert(0, _loinc(SPO2))
        code = {"coding": coding, "text": row.display}
    else:
        own = {"system": SCALE_SYSTEM, "code": row.code, "display": row.display}
        code = {"coding": [own], "text": row.display}
    survey = _is_survey(row)
    profile = "" if survey else PROFILE.format(PROFILES.get(row.code, "vitalsigns"))
    # A score's UCUM code is {score} (or "1", the pain NRS's in the project's table): "score"
    # says it in words.
    unit = "score" if survey else UNIT_WORDS.get(row.unit, row.unit)
    return pruned(
        {
            "resourceType": "Observation",
            "id": str(row.public_id),
            # Chart rows are never edited: the entry's saving is the last change.
            "meta": {"lastUpdated": instant(entry.recorded_at), "profile": [profile]},
            "status": "final",
            "category": [SURVEY if survey else VITAL_SIGNS],
            "code": code,
            "subject": reference("Patient", row.patient),
            "encounter": reference("Encounter", row.session),
            "effectiveDateTime": instant(row.taken_at),
            "issued": instant(entry.recorded_at),
            "performer": [reference("Practitioner", entry.recorded_by)],
            "valueQuantity": {
                "value": _number(row.value),
                "unit": unit,
                "system": UCUM,
                "code": row.unit,
            },
            "component": _components(row) if row.system != codes.LOINC.key else [],
        }
    )


def _code(qs: QuerySet[Observation], given: list[str]) -> QuerySet[Observation]:
    """``code``: a LOINC code (2708-6 finds the SpO2 rows, stored as 59408-5) or a scale code
    (rass, moaas, cadss6, aldrete), with or without its system."""
    match = Q()
    matched = False
    for value in given:
        system, _, code = value.rpartition("|")
        stored = {code, SPO2_PULSE_OX} if code == SPO2 else {code}
        if system in ("", codes.LOINC.uri):
            match |= Q(system=codes.LOINC.key, code__in=stored)
            matched = True
        if system in ("", SCALE_SYSTEM):
            match |= ~Q(system=codes.LOINC.key) & Q(code__in=stored)
            matched = True
    return qs.filter(match) if matched else qs.none()


def _category(qs: QuerySet[Observation], given: list[str]) -> QuerySet[Observation]:
    wanted = {value.rsplit("|", 1)[-1] for value in given}
    match = Q()
    if "survey" in wanted:
        match |= _SURVEY_ROWS
    if "vital-signs" in wanted:
        match |= ~_SURVEY_ROWS
    return qs.filter(match) if wanted & {"survey", "vital-signs"} else qs.none()


CHART_OBSERVATION = ResourceType(
    name="Observation",
    rows=_rows,
    to_fhir=chart_observation,
    params={
        **subject_params(),
        "code": Param(
            "token",
            _code,
            "A LOINC code of the chart (8480-6, 8462-4, 8867-4, 9279-1, 2708-6 or 59408-5,"
            " 72514-3), or a bedside scale: rass, moaas, cadss6, aldrete.",
        ),
        "category": Param(
            "token", _category, "vital-signs, or survey (the pain score and bedside scales)."
        ),
        "date": Param("date", dates("taken_at", param="date"), "When it was taken."),
    },
    updated_field="entry__recorded_at",
    patient_of=lambda row: row.patient,
    includes={"Observation:patient": ("Patient", lambda row: row.patient)},
    doc="The infusion chart: vital signs (LOINC, R4 vital-signs profiles), the pain score and"
    " the bedside scales (RASS, MOAA/S, CADSS-6, modified Aldrete).",
)
