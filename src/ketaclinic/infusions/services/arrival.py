"""Arrival: the patient is checked in for today's infusion appointment (the session starts
here) and given a chair, or moved to another."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404

from ketaclinic.audit.api import Actor
from ketaclinic.audit.models import Action
from ketaclinic.clinics.api import clinic_policy_current
from ketaclinic.clinics.models import Chair
from ketaclinic.infusions.access import ARRIVAL_RECORDERS, require_role
from ketaclinic.infusions.models import ACTIVE_STATUSES, InfusionSession
from ketaclinic.infusions.selectors import current_plan
from ketaclinic.infusions.services._common import (
    _audit,
    _locked,
    _now,
    _save,
    _when,
)
from ketaclinic.infusions.states import INITIAL
from ketaclinic.lib.views import user_clinic_id
from ketaclinic.scheduling.api import appointment_infusion_step
from ketaclinic.scheduling.models import Appointment, AppointmentKind, AppointmentStatus


def _free_chair(chair: Chair, *, except_session: InfusionSession | None = None) -> None:
    busy = InfusionSession.objects.filter(chair=chair, status__in=ACTIVE_STATUSES)
    if except_session is not None:
        busy = busy.exclude(pk=except_session.pk)
    if busy.exists():
        raise ValidationError({"chair": f"{chair.name} is taken by another patient."})


def _chair_of(location_id: int, chair_id: int) -> Chair:
    chair = Chair.objects.filter(pk=chair_id, location_id=location_id, is_active=True).first()
    if chair is None:
        raise ValidationError({"chair": "Choose one of this location's chairs."})
    return chair


@transaction.atomic
def session_arrive(
    *,
    actor: Actor,
    appointment_id: uuid.UUID | str,
    chair_id: int | None = None,
    arrived_at: dt.datetime | None = None,
    time_reason: str = "",
) -> InfusionSession:
    """Check a patient in for today's infusion appointment: the session starts here."""
    user = require_role(actor.user, ARRIVAL_RECORDERS)
    try:
        key = uuid.UUID(str(appointment_id))
    except ValueError:
        raise Http404("No such appointment") from None
    appointment = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("location", "patient", "type")
        .filter(clinic_id=user_clinic_id(user), public_id=key, type__kind=AppointmentKind.INFUSION)
        .first()
    )
    if appointment is None:
        raise Http404("No such appointment")
    tz = zoneinfo.ZoneInfo(appointment.location.time_zone)
    if InfusionSession.objects.filter(appointment=appointment).exists():
        raise ValidationError("This patient has already arrived for this appointment.")
    # Arrived already: the desk recorded it from the schedule; the check-in goes on from there
    # (one arrival, whoever records it first).
    if appointment.status not in (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED):
        raise ValidationError(
            f"This appointment is {appointment.get_status_display().lower()}; it cannot be "
            "checked in."
        )
    today = _now().astimezone(tz).date()
    if appointment.start.astimezone(tz).date() != today:
        raise ValidationError(
            f"This appointment is on {appointment.start.astimezone(tz):%A %d %B}, not today."
        )
    # Gate 7: blank is the moment of saving; back-dating within the clinic's window (and still
    # today), with a reason past a few minutes.
    timed = _when(
        arrived_at,
        field="arrived_at",
        tz=tz,
        policy=clinic_policy_current(clinic_id=appointment.clinic_id),
        reason=time_reason,
    )
    at = timed.at
    if at.astimezone(tz).date() != today:
        raise ValidationError({"arrived_at": "Enter a time of arrival today."})
    chair = None
    wanted = chair_id if chair_id is not None else appointment.chair_id
    if wanted is not None:
        chair = _chair_of(appointment.location_id, wanted)
        _free_chair(chair)
    if InfusionSession.objects.filter(
        patient=appointment.patient, status__in=ACTIVE_STATUSES
    ).exists():
        raise ValidationError("This patient is already in a chair today.")
    session = InfusionSession(
        clinic_id=appointment.clinic_id,
        location=appointment.location,
        chair=chair,
        patient=appointment.patient,
        plan=current_plan(appointment.patient),
        appointment=appointment,
        status=INITIAL,
        arrived_at=at,
        arrived_by=user,
        arrived_time_reason=timed.reason,
    )
    session.full_clean(exclude=["plan", "appointment", "chair"])
    try:
        with transaction.atomic():
            session.save()
    except IntegrityError:
        # Two desks checking in at the same moment: the constraint decides, nothing is saved.
        raise ValidationError(
            {"chair": "That chair or patient was just taken by another check-in. Reload."}
        ) from None
    appointment_infusion_step(
        actor=actor, appointment=appointment, status=AppointmentStatus.ARRIVED
    )
    _audit(
        actor,
        session,
        "arrive",
        action=Action.CREATE,
        appointment=str(appointment.public_id),
        chair=chair.pk if chair else None,
        **timed.audit,
    )
    return session


@transaction.atomic
def session_chair_assign(
    *, actor: Actor, session_id: uuid.UUID | str, expected_version: int, chair_id: int
) -> InfusionSession:
    session = _locked(actor, session_id, expected_version, "chair")
    chair = _chair_of(session.location_id, chair_id)
    if chair.pk == session.chair_id:
        raise ValidationError({"chair": f"The patient is already in {chair.name}."})
    _free_chair(chair, except_session=session)
    session.chair = chair
    try:
        with transaction.atomic():
            _save(session)
    except IntegrityError:
        raise ValidationError({"chair": f"{chair.name} was just taken. Reload."}) from None
    _audit(actor, session, "chair", chair=chair.pk)
    return session
