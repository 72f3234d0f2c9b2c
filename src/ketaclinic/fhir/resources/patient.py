"""Patient: the registration record (demographics), as the web app's patient pages show it to
the same reader (``patients.api.patients_visible_to``: the clinic's staff, or the patient
herself)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q, QuerySet

from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.resources.base import ResourceType, instant, pruned, reference
from ketaclinic.fhir.search import Param, dates, strings, tokens
from ketaclinic.patients.models import Patient, Sex

# Each clinic numbers its patients itself: the record number's system names the clinic.
MRN_SYSTEM = "urn:uuid:{clinic}"
MR_TYPE = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
            "code": "MR",
            "display": "Medical record number",
        }
    ],
    "text": "Record number",
}
GENDERS = {Sex.FEMALE: "female", Sex.MALE: "male"}


def _patients(reader: FhirReader) -> QuerySet[Patient]:
    return reader.patients().select_related("clinic")


def patient(row: Patient) -> dict[str, Any]:
    telecom = []
    if row.phone:
        telecom.append({"system": "phone", "value": row.phone, "use": "home"})
    if row.email:
        telecom.append({"system": "email", "value": row.email, "use": "home"})
    return pruned(
        {
            "resourceType": "Patient",
            "id": str(row.public_id),
            "meta": {"lastUpdated": instant(row.updated_at)},
            "identifier": [
                {
                    "use": "usual",
                    "type": MR_TYPE,
                    "system": MRN_SYSTEM.format(clinic=row.clinic.public_id),
                    "value": row.mrn,
                }
            ],
            "active": True,
            "name": [{"use": "official", "family": row.family_name, "given": [row.given_name]}],
            "telecom": telecom,
            "gender": GENDERS.get(Sex(row.sex), "unknown"),
            "birthDate": row.date_of_birth.isoformat(),
            "managingOrganization": reference("Organization", row.clinic),
            # The referring physician is a name on the record, not a staff member here.
            "generalPractitioner": (
                [{"display": row.referring_physician}] if row.referring_physician else []
            ),
        }
    )


def _identifier(qs: QuerySet[Patient], given: list[str]) -> QuerySet[Patient]:
    # ``value``, or ``system|value`` with the clinic's own system (``MRN_SYSTEM``): another
    # system's number, though the same digits, is not this record's (R4 3.1.1.5.2 token);
    # ``|value`` asks for an identifier with no system, and every record number has one.
    # Record numbers are stored upper case.
    match = Q(pk__in=[])
    for value in given:
        system, bar, number = value.rpartition("|")
        number = number.strip().upper()
        if not bar:
            match |= Q(mrn=number)
            continue
        clinic = system.removeprefix("urn:uuid:") if system.startswith("urn:uuid:") else ""
        try:
            match |= Q(mrn=number, clinic__public_id=uuid.UUID(clinic))
        except ValueError:
            continue  # not a clinic's system: no record here
    return qs.filter(match)


PATIENT = ResourceType(
    name="Patient",
    rows=_patients,
    to_fhir=patient,
    params={
        "identifier": Param("token", _identifier, "The record number (system|value or value)."),
        "family": Param("string", strings("family_name"), "Family name, from its start."),
        "given": Param("string", strings("given_name"), "Given name, from its start."),
        "name": Param(
            "string", strings("family_name", "given_name"), "Either name, from its start."
        ),
        "birthdate": Param(
            "date", dates("date_of_birth", param="birthdate", day_field=True), "Date of birth."
        ),
        "gender": Param(
            "token",
            tokens("sex", {code: sex.value for sex, code in GENDERS.items()}),
            "female or male.",
        ),
    },
    updated_field="updated_at",
    patient_of=lambda row: row,
    doc="Registration records: a clinic's staff read its patients, a patient her own.",
)
