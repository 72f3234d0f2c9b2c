"""Progress letters to the referring physician: requested by clinical staff (audited), then
drawn as a PDF by the task worker (``letters.generation``, wrapped by ``letters.tasks``).

This module enqueues the drawing by name (``lib.tasks.enqueue``), so it imports no tasks module.
"""

from __future__ import annotations

from django.db import transaction

from ketaclinic.accounts.models import Role
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.lib.tasks import LETTER_GENERATE, enqueue
from ketaclinic.outcomes.models import Letter
from ketaclinic.patients.models import Patient

CLINICAL_ROLES = (Role.NURSE, Role.PHYSICIAN, Role.CLINIC_ADMIN)


@transaction.atomic
def letter_request(*, actor: Actor, patient: Patient) -> Letter:
    """Queue a progress letter; the worker draws it. The caller has authorized ``actor``."""
    user = actor.user
    if user is None or user.role not in CLINICAL_ROLES or user.clinic_id != patient.clinic_id:
        raise PermissionError("Only the clinic's clinical staff request letters.")
    letter = Letter(clinic_id=patient.clinic_id, patient=patient, requested_by=user)
    letter.full_clean(validate_constraints=False)
    letter.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="progress_letter",
        object_id=letter.public_id,
        patient=patient,
    )
    letter_id = letter.pk
    transaction.on_commit(lambda: enqueue(LETTER_GENERATE, letter_id), robust=True)
    return letter
