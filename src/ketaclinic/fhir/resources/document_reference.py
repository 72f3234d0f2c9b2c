"""DocumentReference: the progress letters to the referring physician (``outcomes.Letter``) once
drawn, the PDF as an attachment whose url is the ``Binary`` of the same id on this server
(``fhir/binary.py`` serves it). A letter still being prepared, or one that failed, has no
document yet and is not listed. Read as the letters page and its download allow: the clinic's
nurses, physicians and admins; not the front desk, and not the patient (the pages show her no
letters: they are written to her physician)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.resources.base import ResourceType, instant, pruned, reference
from ketaclinic.fhir.search import Param, dates, subject_params
from ketaclinic.outcomes.models import Letter, LetterStatus
from ketaclinic.patients.models import Patient

# No LOINC code for a progress letter is in the project's code tables
# (ketaclinic/clinical/codes.py): the clinic's own code, and the words.
DOCUMENT_TYPE_SYSTEM = "https://ketaclinic.org/fhir/CodeSystem/document-type"
PROGRESS_LETTER = "progress-letter"
PDF = "application/pdf"


def letter_patients(reader: FhirReader) -> QuerySet[Patient]:
    """Whose letters the reader may see: the clinical staff's patients (the letters pages are
    for nurses, physicians and clinic admins only), none for a patient or the front desk."""
    return reader.chart_patients()


def ready_letters(reader: FhirReader) -> QuerySet[Letter]:
    """Every drawn letter the reader may see, with what the resource names joined."""
    return Letter.objects.filter(
        clinic_id=reader.clinic_id,
        patient__in=letter_patients(reader),
        status=LetterStatus.READY,
    ).select_related("patient__clinic", "requested_by", "clinic")


def _type() -> dict[str, Any]:
    return {
        "coding": [
            {
                "system": DOCUMENT_TYPE_SYSTEM,
                "code": PROGRESS_LETTER,
                "display": "Progress letter",
            }
        ],
        "text": "Progress letter",
    }


def document_reference(letter: Letter) -> dict[str, Any]:
    assert letter.ready_at is not None  # a ready letter has its time (letter_ready_has_pdf_file)
    return pruned(
        {
            "resourceType": "DocumentReference",
            "id": str(letter.public_id),
            # A drawn letter never changes.
            "meta": {"lastUpdated": instant(letter.ready_at)},
            "status": "current",
            "docStatus": "final",
            "type": _type(),
            "subject": reference("Patient", letter.patient),
            "date": instant(letter.ready_at),
            # Who asked for it; the worker drew it from the record.
            "author": [reference("Practitioner", letter.requested_by)],
            "custodian": reference("Organization", letter.clinic),
            "description": "Progress letter to the referring physician",
            "content": [
                {
                    "attachment": {
                        "contentType": PDF,
                        # Relative to this server's base (R4 allows a relative url here).
                        "url": f"Binary/{letter.public_id}",
                        # No day in it: the letter's own name holds its UTC one; ``creation``
                        # is the instant, for a client to show in its reader's zone.
                        "title": "Progress letter",
                        "creation": instant(letter.ready_at),
                    }
                }
            ],
        }
    )


def _status(qs: QuerySet[Letter], given: list[str]) -> QuerySet[Letter]:
    # Every letter listed is the current one: a drawn letter is never replaced or withdrawn.
    wanted = {value.rsplit("|", 1)[-1] for value in given}
    return qs if "current" in wanted else qs.none()


def _letter_type(qs: QuerySet[Letter], given: list[str]) -> QuerySet[Letter]:
    for value in given:
        system, _, code = value.rpartition("|")
        if code == PROGRESS_LETTER and system in ("", DOCUMENT_TYPE_SYSTEM):
            return qs
    return qs.none()


DOCUMENT_REFERENCE = ResourceType(
    name="DocumentReference",
    rows=ready_letters,
    to_fhir=document_reference,
    params={
        **subject_params(),
        "date": Param("date", dates("ready_at", param="date"), "When the letter was drawn."),
        "status": Param("token", _status, "current (every letter listed is)."),
        "type": Param(
            "token",
            _letter_type,
            f"{DOCUMENT_TYPE_SYSTEM}|{PROGRESS_LETTER} (every document here is one).",
        ),
    },
    updated_field="ready_at",
    patient_of=lambda row: row.patient,
    includes={"DocumentReference:patient": ("Patient", lambda row: row.patient)},
    doc=(
        "Progress letters to the referring physician; the PDF is the Binary of the same id"
        " (GET Binary/[id] with Accept: application/pdf, or FHIR JSON)."
    ),
)
