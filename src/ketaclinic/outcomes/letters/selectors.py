"""Audited reads of progress letters: the chart's list and the PDF download."""

from __future__ import annotations

from django.core.files import File
from django.db import transaction

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.outcomes.models import Letter
from ketaclinic.patients.models import Patient


def letters_for_patient(*, actor: Actor, patient: Patient) -> list[Letter]:
    with transaction.atomic():
        rows = list(Letter.objects.filter(patient=patient).order_by("-created_at"))
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="progress_letters",
            object_id=patient.public_id,
            patient=patient,
        )
    return rows


def letter_download(*, actor: Actor, letter: Letter) -> File[bytes]:
    """The ready letter's PDF, opened from the storage (the caller streams and closes it), and
    the export recorded. A file that cannot be opened raises before anything is recorded:
    ``FileNotFoundError`` (or the storage's own error) names no patient."""
    handle: File[bytes] = letter.pdf_file.storage.open(letter.pdf_file.name, "rb")
    try:
        with transaction.atomic():
            audit_record(
                actor=actor,
                action=Action.EXPORT,
                object_type="progress_letter",
                object_id=letter.public_id,
                patient=letter.patient,
            )
    except BaseException:
        handle.close()
        raise
    return handle
