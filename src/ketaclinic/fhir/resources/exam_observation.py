"""Observation, second table: the measurements of a consultation's exam
(``assessments.Observation``: LOINC-coded with UCUM units, written with each exam save from the
codes of ``assessments/vocab.py``), by the FHIR R4 vital-signs profiles
(hl7.org/fhir/R4/observation-vitalsigns.html): category ``vital-signs``, the profile's LOINC
code and UCUM unit, and the profile named in ``meta.profile``. The pain now (LOINC 72514-3)
is no vital sign: category ``survey``, as the diary's daily score. A clinical note, read as the
consultation pages are (``FhirReader.chart_patients``): by the clinic's nurses, physicians and
admins and its backend systems; not by a patient, even her own, nor by the front desk.

Blood pressure is stored as two rows (systolic 8480-6, diastolic 8462-4), so it is two
Observations claiming the generic vital-signs profile, not ``bp``: R4's ``bp`` wants one
Observation (85354-9) with both as components, which would make one id stand for two rows. The
infusion chart's Observations (``chart_observation.py``) do the same, so a client finds every
blood pressure of the type by one code. SpO2 is one value the exam stores twice, under both
pulse-oximetry codes (59408-5 and 2708-6, as US Core asks both on one resource): the 2708-6 row
(R4's ``oxygensat`` code) is the resource, carrying both codings, and the 59408-5 row is no
resource of its own (one measurement, not two).

Status: ``final`` once the consultation is signed, ``preliminary`` while it is a draft. The
rows have no time of their own: ``effectiveDateTime`` is the exam date and ``_lastUpdated``
the consultation's (every exam save brings the rows in step in the consultation's transaction;
a measurement still taken keeps its row and id while the draft is edited).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from ketaclinic.assessments.api import EXAM_OBSERVATIONS
from ketaclinic.assessments.models import ConsultationStatus, Observation
from ketaclinic.clinical import codes
from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.resources.base import UNIT_WORDS, ResourceType, instant, pruned, reference
from ketaclinic.fhir.resources.encounter import token_groups
from ketaclinic.fhir.search import Param, dates, subject_params

CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
VITAL_SIGNS = {
    "coding": [{"system": CATEGORY_SYSTEM, "code": "vital-signs", "display": "Vital Signs"}]
}
SURVEY = {"coding": [{"system": CATEGORY_SYSTEM, "code": "survey", "display": "Survey"}]}
UCUM = "http://unitsofmeasure.org"
PROFILE = "http://hl7.org/fhir/StructureDefinition/{}"

SPO2, PULSE_OX = "2708-6", "59408-5"
# LOINC code -> R4 vital-signs profile (hl7.org/fhir/R4/observation-vitalsigns.html); the
# systolic and diastolic rows claim the generic one (see above).
PROFILES: Mapping[str, str] = {
    "8480-6": "vitalsigns",
    "8462-4": "vitalsigns",
    "8867-4": "heartrate",
    "9279-1": "resprate",
    SPO2: "oxygensat",
    PULSE_OX: "oxygensat",
    "8310-5": "bodytemp",
    "8302-2": "bodyheight",
    "29463-7": "bodyweight",
    "39156-5": "bmi",
}

_STORED = {code.code for coded in EXAM_OBSERVATIONS.values() for code in coded}
# ``code`` -> the stored rows whose resource carries it in ``Observation.code``.
_CODES: Mapping[str, tuple[str, ...]] = {
    **{code: (code,) for code in _STORED},
    SPO2: (SPO2, PULSE_OX),
    PULSE_OX: (SPO2, PULSE_OX),
}


def _measurements(reader: FhirReader) -> QuerySet[Observation]:
    same_value_coded_twice = Exists(
        Observation.objects.filter(consultation=OuterRef("consultation"), loinc=SPO2)
    )
    return (
        Observation.objects.filter(
            consultation__clinic_id=reader.clinic_id, patient__in=reader.chart_patients()
        )
        .exclude(Q(same_value_coded_twice, loinc=PULSE_OX))
        .select_related("patient__clinic", "consultation")
    )


def _coding(loinc: str) -> dict[str, str]:
    code = codes.lookup(codes.LOINC.key, loinc, field="loinc")
    return {"system": codes.LOINC.uri, "code": code.code, "display": code.display}


def _quantity(value: float, unit: str) -> dict[str, Any]:
    number: float | int = int(value) if value.is_integer() else value
    return {"value": number, "unit": UNIT_WORDS.get(unit, unit), "system": UCUM, "code": unit}


def observation(row: Observation) -> dict[str, Any]:
    consultation = row.consultation
    profile = PROFILES.get(row.loinc)
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(row.public_id),
        "meta": {
            "lastUpdated": instant(consultation.updated_at),
            "profile": [PROFILE.format(profile)] if profile else [],
        },
        "status": "final" if consultation.status == ConsultationStatus.SIGNED else "preliminary",
        "category": [VITAL_SIGNS if profile else SURVEY],
        "code": {"coding": [_coding(row.loinc)], "text": row.display},
        "subject": reference("Patient", row.patient),
        "encounter": reference("Encounter", consultation),
        # The exam's day: the record keeps no clock time of the measurement.
        "effectiveDateTime": row.effective_date.isoformat(),
        "valueQuantity": _quantity(row.value, row.unit),
    }
    if profile == "oxygensat":
        resource["code"] = {"coding": [_coding(SPO2), _coding(PULSE_OX)], "text": "SpO2"}
    return pruned(resource)


def _category(qs: QuerySet[Observation], given: list[str]) -> QuerySet[Observation]:
    wanted = set()
    for value in given:
        system, bar, code = value.rpartition("|")
        if not (bar and system and system != CATEGORY_SYSTEM):
            wanted.add(code)
    # As ``observation`` categorizes: a code with a vital-signs profile is one, any other a
    # survey (the pain now).
    match = Q(pk__in=[])
    if "vital-signs" in wanted:
        match |= Q(loinc__in=list(PROFILES))
    if "survey" in wanted:
        match |= ~Q(loinc__in=list(PROFILES))
    return qs.filter(match)


EXAM_OBSERVATION = ResourceType(
    name="Observation",
    rows=_measurements,
    to_fhir=observation,
    params={
        **subject_params(),
        "code": Param(
            "token",
            token_groups("loinc", _CODES, codes.LOINC.uri),
            "A LOINC code of the exam: 8480-6, 8462-4, 8867-4, 9279-1, 2708-6 or 59408-5,"
            " 8310-5, 8302-2, 29463-7, 39156-5, 72514-3.",
        ),
        "category": Param(
            "token",
            _category,
            "vital-signs (the exam's measurements) or survey (the pain now).",
        ),
        "date": Param(
            "date",
            dates("effective_date", param="date", day_field=True),
            "The exam's day.",
        ),
    },
    updated_field="consultation__updated_at",
    patient_of=lambda row: row.patient,
    includes={"Observation:patient": ("Patient", lambda row: row.patient)},
    doc="A consultation's exam: vital signs by the R4 vital-signs profiles, and the pain now.",
)
