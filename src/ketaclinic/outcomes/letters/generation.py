"""Drawing a queued progress letter and storing it: the task worker's work (``letters.tasks``)."""

from __future__ import annotations

import logging

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
    with transaction.atomic():
        Letter.objects.filter(pk=letter.pk, status=LetterStatus.QUEUED).update(
            status=LetterStatus.READY, pdf=content, ready_at=timezone.now()
        )
        audit_record(
            actor=Actor(user=None),
            action=Action.UPDATE,
            object_type="progress_letter",
            object_id=letter.public_id,
            patient=letter.patient,
            detail={"status": "ready", "bytes": len(content)},
        )
    return LetterStatus.READY
