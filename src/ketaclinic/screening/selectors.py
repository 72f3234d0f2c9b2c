"""Reads of self-checks for pages and the chart: bounded queries; reads of patient data audited."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.http import HttpRequest

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.patients.api import access_patient
from ketaclinic.patients.models import Patient
from ketaclinic.screening.models import SelfCheck

SESSION_ANSWERS = "selfcheck_answers"
"""Session key of the answers given so far, by step (one key for the whole questionnaire)."""
SESSION_RESULT = "selfcheck_id"
"""Session key of the public id of the visitor's latest stored result."""


def selfcheck_from_session(request: HttpRequest) -> SelfCheck | None:
    """The visitor's latest self-check, while it is still anonymous; otherwise None.

    One query. Once attached to a patient the row is patient data: it is then read through
    ``selfchecks_for_patient`` (authorized and audited), never through a session.
    """
    raw = request.session.get(SESSION_RESULT)
    try:
        key = uuid.UUID(str(raw))
    except ValueError:
        return None
    return SelfCheck.objects.filter(public_id=key, patient__isnull=True).first()


def selfchecks_for_patient(*, actor: Actor, patient: Patient) -> list[SelfCheck]:
    """A patient's self-checks, newest first, for the chart: staff of the patient's clinic with
    clinical access, or the patient. Outside that scope ``Http404``. One audit event per read."""
    assert actor.user is not None
    with transaction.atomic():
        allowed = access_patient(actor.user, patient.public_id, for_write=False, clinical=True)
        rows = list(SelfCheck.objects.filter(patient=allowed))
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="selfcheck_list",
            patient=allowed,
            detail={"results": len(rows)},
        )
    return rows
