"""The day of an appointment: arrival, no-show and completion, recorded by the desk from the
schedule or by the infusion chart at check-in and discharge.

Separate from ``appointments.py`` (booking, moving, cancelling ahead of time): these changes
follow one transition table, and both ways in write the state the same way (``_status_write``).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.scheduling.models import Appointment, AppointmentStatus
from ketaclinic.scheduling.selectors import appointment_load
from ketaclinic.scheduling.services.errors import SchedulingError
from ketaclinic.scheduling.services.gates import require_scheduler
from ketaclinic.scheduling.services.locks import lock_appointment
from ketaclinic.scheduling.signals import announce_appointments_changed, completion_holds

# What the desk may record, from each state. Cancelled and completed are final; a no-show can
# still turn into an arrival (the patient came late), nothing else goes backwards.
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    AppointmentStatus.BOOKED: frozenset({AppointmentStatus.ARRIVED, AppointmentStatus.NO_SHOW}),
    AppointmentStatus.ARRIVED: frozenset({AppointmentStatus.COMPLETED}),
    AppointmentStatus.NO_SHOW: frozenset({AppointmentStatus.ARRIVED}),
}


def appointment_status_change(
    *,
    actor: Actor,
    appointment: Appointment,
    status: str,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> Appointment:
    """Record an arrival, a no-show or a completion, if the current state allows it."""
    now = now or timezone.now()
    require_scheduler(actor, appointment.clinic_id, "change an appointment's state")
    if status not in {s.value for s in AppointmentStatus} or status == AppointmentStatus.CANCELLED:
        raise SchedulingError("status: choose arrived, no-show or completed.", field="status")
    target = AppointmentStatus(status)
    with transaction.atomic():
        current = lock_appointment(appointment, expected_version=expected_version)
        _require_transition(current, target)
        tz = zoneinfo.ZoneInfo(current.location.time_zone)
        if target == AppointmentStatus.ARRIVED and (
            now.astimezone(tz).date() < current.start.astimezone(tz).date()
        ):
            raise SchedulingError("An arrival can be recorded from the day of the appointment.")
        if target != AppointmentStatus.ARRIVED and now < current.start:
            raise SchedulingError(
                f"This appointment has not started yet, so it cannot be marked "
                f"{target.label.lower()}."
            )
        if target == AppointmentStatus.COMPLETED:
            held = completion_holds([current.pk]).get(current.pk)
            if held:
                raise SchedulingError(held)
        _status_write(actor, current, target, now)
    return appointment_load(appointment.pk)


def _require_transition(current: Appointment, target: AppointmentStatus) -> None:
    if target not in STATUS_TRANSITIONS.get(current.status, frozenset()):
        raise SchedulingError(
            f"This appointment is {current.get_status_display().lower()}, so it cannot be "
            f"marked {target.label.lower()}."
        )


def _status_write(
    actor: Actor, current: Appointment, target: AppointmentStatus, now: dt.datetime
) -> None:
    """The one way an appointment's state is written: the version moves on (a page opened
    before refuses its stale form), results are recomputed after commit, one audit event."""
    Appointment.objects.filter(pk=current.pk).update(
        status=target, version=F("version") + 1, updated_at=now
    )
    announce_appointments_changed([current.patient_id])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="appointment",
        object_id=current.public_id,
        patient=current.patient,
        detail={"change": "status", "from": current.status, "to": str(target)},
    )


# The infusion chart moves its own appointment on: arrived at check-in, completed at discharge.
INFUSION_STEPS: frozenset[AppointmentStatus] = frozenset(
    {AppointmentStatus.ARRIVED, AppointmentStatus.COMPLETED}
)


def appointment_infusion_step(
    *, actor: Actor, appointment: Appointment, status: AppointmentStatus
) -> None:
    """The infusion chart's step on its appointment, inside the chart's transaction.

    The chart's service has already checked who may check in or discharge (a nurse charts, and
    is not one of the desk's schedulers); here the appointment follows the same transitions,
    version and audit shape as every other change of state. A step already taken does nothing.
    """
    if status not in INFUSION_STEPS:
        raise ValueError(f"the infusion chart does not mark an appointment {status}")
    current = lock_appointment(appointment)
    if current.status == status:
        return
    _require_transition(current, status)
    _status_write(actor, current, status, timezone.now())
