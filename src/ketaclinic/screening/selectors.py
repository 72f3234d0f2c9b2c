"""Reads of self-checks for pages and the chart: bounded queries; reads of patient data audited."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.http import HttpRequest

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.patients.api import access_patient
from ketaclinic.patients.models import Patient
from ketaclinic.screening.models import SelfCheck
from ketaclinic.screening.questions import DURATIONS, FEEL_QUESTIONS, instrument_answers

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


@dataclass(frozen=True)
class SelfCheckAnswers:
    """What a patient answered in her latest self-check, in the self-check's own codes (see
    ``questions.py``), for the consultation's history to start from."""

    row_id: int  # for a foreign key to the row; never shown
    public_id: uuid.UUID
    taken_at: dt.datetime
    duration: str
    duration_label: str
    duration_months: float
    regions: tuple[str, ...]
    feel_yes: tuple[str, ...]  # the symptom concepts of the "feel" step answered yes
    treatments: tuple[str, ...]  # therapy codes of clinical.eligibility.THERAPIES tried


def selfcheck_answers_for_intake(
    *, patient: Patient, public_id: uuid.UUID | None = None
) -> SelfCheckAnswers | None:
    """The patient's newest attached self-check (or the one with ``public_id``, if it is hers),
    or None: one query.

    An internal read for the consultation's history form: the caller's page read (or write) is
    what gets audited, as the form shows the answers inside the consultation.
    """
    rows = SelfCheck.objects.filter(patient=patient)
    if public_id is not None:
        rows = rows.filter(public_id=public_id)
    found = rows.order_by("-created_at", "-id").first()
    if found is None:
        return None
    answers = found.answers
    duration = next(d for d in DURATIONS if d.value == answers["duration"]["duration"])
    feel = answers["feel"]
    return SelfCheckAnswers(
        row_id=found.pk,
        public_id=found.public_id,
        taken_at=found.created_at,
        duration=duration.value,
        duration_label=duration.label,
        duration_months=duration.months,
        regions=tuple(answers["where"]["regions"]),
        feel_yes=tuple(q.concept for q in FEEL_QUESTIONS if feel.get(q.concept) is True),
        treatments=tuple(t for t in answers["treatments"]["treatments"] if t != "none"),
    )


def selfcheck_instrument_answers(selfcheck: SelfCheck) -> dict[str, dict[str, bool]]:
    """Each instrument's item answers, as the self-check scored them from its stored answers
    (one answer per symptom feeds every instrument that asks it: ``questions``)."""
    concepts = {**selfcheck.answers["feel"], **selfcheck.answers["self-tests"]}
    return instrument_answers({key: bool(value) for key, value in concepts.items()})
