"""Drawing a queued progress letter and storing it: the task worker's work (``letters.tasks``).

The PDF goes to the default storage (``STORAGES["default"]``: a directory every node shares, or an
object store), named by the letter's random public id, and the row records its name; any web node
then streams it through the audited download (``letters.selectors.letter_open``).
"""

from __future__ import annotations

import logging

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.outcomes.letters.pdf import letter_pdf
from ketaclinic.outcomes.models import Letter, LetterStatus

log = logging.getLogger(__name__)


def letter_generate_now(*, letter_id: int) -> str:
    """Draw one queued letter and store it (ready), or record the failure (failed)."""
    letter = Letter.objects.select_related(
        "patient__clinic", "patient__home_location", "requested_by"
    ).get(pk=letter_id)
    if letter.status != LetterStatus.QUEUED:
        return letter.status
    try:
        content = letter_pdf(letter.patient, requested_by=letter.requested_by)
    except Exception as exc:
        log.exception("Progress letter %s failed", letter.pk)
        Letter.objects.filter(pk=letter.pk).update(status=LetterStatus.FAILED, error=str(exc)[:500])
        return LetterStatus.FAILED
    # The file first, then the row: a row never names a file that is not there. If the row
    # cannot take it (another worker finished this letter first, or the write fails), the
    # file is removed again.
    name = default_storage.save(letter_file_name(letter), ContentFile(content))
    try:
        with transaction.atomic():
            updated = Letter.objects.filter(pk=letter.pk, status=LetterStatus.QUEUED).update(
                status=LetterStatus.READY, pdf_file=name, ready_at=timezone.now()
            )
            if updated:
                _audit_ready(letter, len(content))
    except BaseException:
        default_storage.delete(name)
        raise
    if not updated:
        # Another run finished the letter meanwhile (the storage gave this file its own name).
        default_storage.delete(name)
        return str(Letter.objects.values_list("status", flat=True).get(pk=letter.pk))
    return LetterStatus.READY


def letter_file_name(letter: Letter) -> str:
    """Where a letter's PDF is stored: its random public id, no patient data in the name."""
    return f"letters/{letter.public_id}.pdf"


def _audit_ready(letter: Letter, size: int) -> None:
    audit_record(
        actor=Actor(user=None),
        action=Action.UPDATE,
        object_type="progress_letter",
        object_id=letter.public_id,
        patient=letter.patient,
        detail={"status": "ready", "bytes": size},
    )
