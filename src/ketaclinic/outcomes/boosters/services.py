"""The booster loop: a relapse after the latest series becomes a suggestion in the physician's
queue; the physician approves (the patient is offered booster slots) or declines with a reason;
the patient books a booster through the scheduling services. Every step is audited.

The relapse comes only from ``ketaclinic.clinical.outcomes.durability`` (through
``boosters.selectors.relapse_for_patient``); the booster policy is
``clinical.protocols.BOOSTER_SOURCE``.
Refusals raise ``ValidationError`` (field-named) or ``SchedulingError`` and change nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ketaclinic.accounts.models import Role
from ketaclinic.assessments.api import require_eligibility_in_force
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinical import outcomes as clinical_outcomes
from ketaclinic.clinical.protocols import BOOSTER_SOURCE
from ketaclinic.clinics.models import Clinic, Location
from ketaclinic.lib.locking import lock_row, lock_versioned
from ketaclinic.outcomes.boosters.emails import send_booster_offer
from ketaclinic.outcomes.boosters.selectors import relapse_for_patient
from ketaclinic.outcomes.durability.services import (
    PatientOutcomes,
    RefreshCount,
    series_results_refresh_changed,
)
from ketaclinic.outcomes.models import BoosterStatus, BoosterSuggestion
from ketaclinic.outcomes.selectors import Relapse
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling import api as scheduling_api
from ketaclinic.scheduling.models import Appointment, AppointmentKind, AppointmentType

BOOSTER_TYPE_NAME = "Booster infusion"
REASON_MAX = 500


def _suggest(patient: Patient, relapse: Relapse) -> BoosterSuggestion | None:
    """Write the suggestion and its audit event (one savepoint); None when a concurrent
    refresh wrote it first (the unique constraint (patient, relapse date) settles the race)."""
    suggestion = BoosterSuggestion(
        clinic_id=patient.clinic_id,
        patient=patient,
        series_end=relapse.series_end,
        relapse_date=relapse.relapse_date,
        baseline=relapse.baseline,
        window_means=relapse.window_means,
        source=BOOSTER_SOURCE,
    )
    suggestion.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            suggestion.save()
            audit_record(
                actor=Actor(user=None),
                action=Action.CREATE,
                object_type="booster_suggestion",
                object_id=suggestion.public_id,
                patient=patient,
                detail={
                    "relapse_date": relapse.relapse_date.isoformat(),
                    "series_end": relapse.series_end.isoformat(),
                    "baseline": relapse.baseline,
                    "source": clinical_outcomes.SOURCE,
                },
            )
    except IntegrityError:
        return None
    return suggestion


def booster_suggestion_for_patient(*, patient: Patient) -> BoosterSuggestion | None:
    """Create the suggestion for the patient's current relapse unless it exists (idempotent).

    Returns the new suggestion, or None when there is no relapse or it was already suggested.
    """
    relapse = relapse_for_patient(patient)
    if relapse is None:
        return None
    if BoosterSuggestion.objects.filter(
        patient=patient, relapse_date=relapse.relapse_date
    ).exists():
        return None
    return _suggest(patient, relapse)


def booster_suggestions_from(computed: Sequence[PatientOutcomes]) -> int:
    """Suggestions for the relapses of a computed batch that are not suggested yet (one query,
    then one write each); returns how many were created. The batch refresh's booster check: the
    same relapse ``booster_suggestion_for_patient`` finds, from the rows already read."""
    relapses = [(c.patient, c.relapse) for c in computed if c.relapse is not None]
    if not relapses:
        return 0
    known = set(
        BoosterSuggestion.objects.filter(
            patient_id__in=[patient.pk for patient, _ in relapses]
        ).values_list("patient_id", "relapse_date")
    )
    created = 0
    for patient, relapse in relapses:
        if (patient.pk, relapse.relapse_date) not in known and _suggest(patient, relapse):
            created += 1
    return created


def booster_suggestions_refresh(*, clinic: Clinic) -> int:
    """Check every patient of ``clinic`` who has had infusions; returns how many were created."""
    patient_ids = (
        Appointment.objects.filter(clinic=clinic, type__kind=AppointmentKind.INFUSION)
        .values_list("patient_id", flat=True)
        .distinct()
    )
    created = 0
    for patient in Patient.objects.filter(pk__in=list(patient_ids)).select_related("home_location"):
        if booster_suggestion_for_patient(patient=patient) is not None:
            created += 1
    return created


def outcomes_refresh_changed(
    *, clinic: Clinic, now: dt.datetime | None = None, patient_ids: Sequence[int] | None = None
) -> RefreshCount:
    """The periodic refresh of what changed in ``clinic``: the stored series results of the
    marked patients (``durability.services.series_results_refresh_changed``) and, in each
    batch's same short write, the booster suggestions of their relapses. The work follows the
    changes, not the clinic's size."""
    return series_results_refresh_changed(
        clinic=clinic, now=now, patient_ids=patient_ids, hook=booster_suggestions_from
    )


def _check_physician(actor: Actor, suggestion: BoosterSuggestion) -> None:
    user = actor.user
    if user is None or user.role != Role.PHYSICIAN or user.clinic_id != suggestion.clinic_id:
        raise PermissionError("Only a physician of this clinic decides on a booster.")


def _lock(suggestion: BoosterSuggestion, expected_version: int | None) -> BoosterSuggestion:
    current = lock_versioned(
        BoosterSuggestion.objects.all(), suggestion.pk, expected_version, "booster suggestion"
    )
    if current.status != BoosterStatus.OPEN:
        raise ValidationError(
            {"status": f"This suggestion is already {current.get_status_display().lower()}."}
        )
    return current


def _decide(
    actor: Actor, current: BoosterSuggestion, status: BoosterStatus, detail: dict[str, str]
) -> None:
    """Record the physician's decision on the locked suggestion, signed in the audit trail."""
    current.status = status
    current.decided_by = actor.user
    current.decided_at = timezone.now()
    current.version += 1
    current.full_clean(validate_constraints=False)
    current.save()
    audit_record(
        actor=actor,
        action=Action.SIGN,
        object_type="booster_suggestion",
        object_id=current.public_id,
        patient=current.patient,
        detail={
            "decision": str(status),
            "relapse_date": current.relapse_date.isoformat(),
            **detail,
        },
    )


def booster_type_ensure(*, actor: Actor, clinic_id: int) -> AppointmentType:
    """The clinic's "Booster infusion" type, created (audited) from its infusion type if missing.

    A booster is one infusion session (BOOSTER_SOURCE), so it copies the duration, recovery
    buffer, provider role and chair of the clinic's infusion type.
    """
    return scheduling_api.infusion_type_variant(
        actor=actor,
        clinic_id=clinic_id,
        name=BOOSTER_TYPE_NAME,
        reason="booster approval",
        fallback_duration_min=clinical_outcomes.BOOSTER_DURATION_MIN,
        fallback_buffer_min=clinical_outcomes.BOOSTER_BUFFER_MIN,
    )


@transaction.atomic
def booster_suggestion_approve(
    *,
    actor: Actor,
    suggestion: BoosterSuggestion,
    appointment_type: AppointmentType | None = None,
    expected_version: int | None = None,
) -> BoosterSuggestion:
    """Approve: the patient is emailed and sees the offer in the portal (after commit)."""
    _check_physician(actor, suggestion)
    current = _lock(suggestion, expected_version)
    # Gate 1: a booster is ketamine, so it is offered only under an eligibility decision in
    # force (booking asks again, as does the start on the day).
    require_eligibility_in_force(
        patient=current.patient, today=timezone.localdate(), action="offer a booster infusion"
    )
    if appointment_type is None:
        appointment_type = booster_type_ensure(actor=actor, clinic_id=current.clinic_id)
    elif (
        appointment_type.clinic_id != current.clinic_id
        or appointment_type.kind != AppointmentKind.INFUSION
        or not appointment_type.is_active
    ):
        raise ValidationError(
            {"appointment_type": "Choose an active infusion appointment type of this clinic."}
        )
    current.appointment_type = appointment_type
    _decide(
        actor,
        current,
        BoosterStatus.APPROVED,
        {"appointment_type": appointment_type.name, "source": BOOSTER_SOURCE},
    )
    suggestion_id = current.pk
    transaction.on_commit(lambda: send_booster_offer(suggestion_id), robust=True)
    return current


@transaction.atomic
def booster_suggestion_decline(
    *,
    actor: Actor,
    suggestion: BoosterSuggestion,
    reason: str,
    expected_version: int | None = None,
) -> BoosterSuggestion:
    """Decline with a reason (required); nothing is offered to the patient."""
    _check_physician(actor, suggestion)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Give the reason for declining the booster."})
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": f"Keep the reason under {REASON_MAX} characters."})
    current = _lock(suggestion, expected_version)
    current.decline_reason = reason
    _decide(actor, current, BoosterStatus.DECLINED, {"reason": reason})
    return current


def booster_book(
    *,
    actor: Actor,
    suggestion: BoosterSuggestion,
    location: Location,
    provider_id: int,
    start: dt.datetime,
    now: dt.datetime | None = None,
) -> Appointment:
    """Book the approved booster (``scheduling.services.appointment_book``) and link it.

    The physician's approval is what allows this infusion type to be booked by the patient,
    so it is booked as an offered appointment (``online=False``), not through the public flow.
    Raises ``SchedulingError`` (nothing booked) or ``ValidationError``.
    """
    with transaction.atomic():
        current = lock_row(BoosterSuggestion.objects.all(), suggestion.pk)
        if current.status != BoosterStatus.APPROVED or current.appointment_type is None:
            raise ValidationError({"slot": "This booster offer is no longer open."})
        appointment = scheduling_api.appointment_book(
            actor=actor,
            patient=current.patient,
            location=location,
            appointment_type=current.appointment_type,
            provider_id=provider_id,
            start=start,
            online=False,
            now=now,
        )
        current.status = BoosterStatus.BOOKED
        current.appointment = appointment
        current.version += 1
        current.full_clean(validate_constraints=False)
        current.save()
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="booster_suggestion",
            object_id=current.public_id,
            patient=current.patient,
            detail={"booked": str(appointment.public_id)},
        )
    return appointment
