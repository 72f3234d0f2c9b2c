"""Writes of self-checks: one transaction each.

``selfcheck_submit`` stores an anonymous result (with a ``SelfCheckResult`` per instrument) and
writes no audit event: the row names no one (see models.py), so there is no patient whose
record was read or changed. ``selfcheck_attach``
turns it into patient data and is audited in the same transaction as the link.
``selfchecks_purge`` deletes anonymous results nobody attached within the retention period
(daily, ``tasks.selfcheck_purge``, which the task worker starts).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.patients.api import patients_visible_to
from ketaclinic.patients.models import Patient
from ketaclinic.screening.models import SelfCheck, SelfCheckResult
from ketaclinic.screening.questions import evaluate


def selfcheck_submit(*, answers: Mapping[str, Mapping[str, object]]) -> SelfCheck:
    """Score a complete set of answers and store the result.

    Raises ``ValueError`` naming the first bad field (``"<step>.<field>: ..."``); nothing is
    stored then.
    """
    outcome = evaluate(answers)
    selfcheck = SelfCheck(
        answers=outcome.answers,
        scores={code: dataclasses.asdict(s) for code, s in outcome.scores.items()},
        chronic=outcome.chronic,
        duration_months=outcome.duration_months,
        red_flags=list(outcome.red_flags),
    )
    selfcheck.full_clean()
    with transaction.atomic():
        selfcheck.save()
        # A row per instrument scored: what the FHIR API serves as its QuestionnaireResponse.
        SelfCheckResult.objects.bulk_create(
            SelfCheckResult(selfcheck=selfcheck, instrument=code) for code in outcome.scores
        )
    return selfcheck


def selfcheck_attach(*, actor: Actor, selfcheck: SelfCheck, patient: Patient) -> SelfCheck:
    """Link a self-check to a patient's record, audited.

    Attaching it again to the same patient changes nothing and writes no event. Refused with a
    ``ValueError`` naming the field, and nothing changed, when it already belongs to another
    patient or when the acting user may not see this patient.
    """
    user = actor.user
    if user is not None and not patients_visible_to(user).filter(pk=patient.pk).exists():
        raise ValueError("patient: this patient's record is not one you may change")
    with transaction.atomic():
        # Lock the row so two attaches cannot both see it unattached.
        locked = SelfCheck.objects.select_for_update().get(pk=selfcheck.pk)
        if locked.patient_id is not None:
            if locked.patient_id == patient.pk:
                return locked
            raise ValueError("patient: this self-check is already attached to another patient")
        locked.patient = patient
        locked.attached_at = timezone.now()
        locked.full_clean()
        locked.save(update_fields=["patient", "attached_at"])
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="selfcheck",
            object_id=locked.public_id,
            patient=patient,
            # What happened, not a copy of the answers.
            detail={"fields": ["patient"]},
        )
    selfcheck.patient = locked.patient
    selfcheck.attached_at = locked.attached_at
    return locked


PURGE_BATCH = 500


def selfchecks_purge(*, older_than: dt.timedelta, now: dt.datetime | None = None) -> int:
    """Delete anonymous self-checks created more than ``older_than`` ago; returns how many.

    Only rows never attached to a patient: an attached self-check is part of the medical record
    and is kept with it. Idempotent, in short batches. Each batch writes one audit event with the
    count (the rows name no one, so there is no patient on the event).
    """
    cutoff = (now or timezone.now()) - older_than
    stale = SelfCheck.objects.filter(patient__isnull=True, created_at__lt=cutoff)
    total = 0
    while True:
        with transaction.atomic():
            ids = list(stale.values_list("pk", flat=True)[:PURGE_BATCH])
            if not ids:
                return total
            # Re-check "still anonymous" in the delete itself: a visitor may attach one of
            # these between the select and the delete.
            # Their ``SelfCheckResult`` rows go with them; the count is of self-checks.
            _, by_model = stale.filter(pk__in=ids).delete()
            deleted = by_model.get(SelfCheck._meta.label, 0)
            if not deleted:  # another purge took this batch first
                continue
            audit_record(
                actor=Actor(user=None),
                action=Action.DELETE,
                object_type="selfcheck_purge",
                detail={"deleted": deleted, "cutoff": cutoff.isoformat()},
            )
        total += deleted
