"""Single appointments: book, move, cancel, and the Patient of a new online account (the day
itself, arrival to completion, is ``status.py``).

Booking follows medplum's ``$book``: the slot is re-derived from availability inside the
writing transaction, and the database has the last word (an exclusion constraint on
PostgreSQL, a trigger behind an IMMEDIATE transaction on SQLite). A lost race surfaces as
``SlotUnavailableError`` carrying the nearest free alternatives, never as a second appointment.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ketaclinic.accounts.models import STAFF_ROLES, User
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinics.models import Clinic, Location
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.links import link_consume, links_retire
from ketaclinic.scheduling.models import (
    ACTIVE_STATUSES,
    ActionLink,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    AppointmentType,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistStatus,
)
from ketaclinic.scheduling.selectors import appointment_load
from ketaclinic.scheduling.services.errors import (
    SchedulingError,
    is_overlap,
)
from ketaclinic.scheduling.services.gates import (
    is_clinician,
    lost_race,
    require_day_cap,
    require_eligibility,
    validated_slot,
)
from ketaclinic.scheduling.services.locks import lock_appointment, lock_providers, retry_if_locked
from ketaclinic.scheduling.services.notifications import (
    after_booking,
    after_cancel,
    run_after_commit,
)
from ketaclinic.scheduling.signals import announce_appointments_changed
from ketaclinic.scheduling.slots import Slot, policy_for


def _refuse_patient_overlap(
    patient: Patient, slot: Slot, *, ignore_appointment_id: int | None = None
) -> None:
    qs = Appointment.objects.filter(
        patient=patient, status__in=ACTIVE_STATUSES, start__lt=slot.end, end__gt=slot.start
    )
    if ignore_appointment_id is not None:
        qs = qs.exclude(pk=ignore_appointment_id)
    if qs.exists():
        raise SchedulingError(
            "You already have an appointment at that time, so nothing new was booked.",
            field="slot",
        )


def _check_scope(
    *, patient: Patient, location: Location, appointment_type: AppointmentType, online: bool
) -> None:
    if not (patient.clinic_id == location.clinic_id == appointment_type.clinic_id):
        raise SchedulingError("That location or appointment type is not part of this clinic.")
    if not appointment_type.is_active or (online and not appointment_type.bookable_online):
        raise SchedulingError("This kind of appointment cannot be booked online. Please call us.")


def appointment_insert(*, actor: Actor, appointment: Appointment, detail: dict[str, Any]) -> None:
    """Save a new appointment and its audit event; the overlap constraints (triggers on SQLite)
    may still refuse it with an IntegrityError, which the caller turns into a refusal."""
    appointment.full_clean(validate_constraints=False)
    appointment.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="appointment",
        object_id=appointment.public_id,
        patient=appointment.patient,
        detail=detail,
    )


@retry_if_locked
def appointment_book(
    *,
    actor: Actor,
    patient: Patient,
    location: Location,
    appointment_type: AppointmentType,
    provider_id: int,
    start: dt.datetime,
    online: bool,
    now: dt.datetime | None = None,
    offer: WaitlistOffer | None = None,
) -> Appointment:
    """Book one appointment, or raise SchedulingError (nothing changed)."""
    now = now or timezone.now()
    _check_scope(
        patient=patient, location=location, appointment_type=appointment_type, online=online
    )
    try:
        with transaction.atomic():
            lock_providers(provider_id)
            slot = validated_slot(
                location=location,
                appointment_type=appointment_type,
                provider_id=provider_id,
                start=start,
                now=now,
                ignore_offer_id=offer.pk if offer else None,
            )
            _refuse_patient_overlap(patient, slot)
            if appointment_type.kind == AppointmentKind.INFUSION:
                # Gates 1 and 3 hold for a single ketamine infusion (a booster, a waitlist
                # offer, the desk) as for a series.
                day = slot.start.astimezone(zoneinfo.ZoneInfo(location.time_zone)).date()
                require_eligibility(
                    patient=patient,
                    today=now.astimezone(zoneinfo.ZoneInfo(location.time_zone)).date(),
                    action="book a ketamine infusion",
                    clinician=is_clinician(actor),
                )
                require_day_cap(patient_id=patient.pk, days=[day])
            appointment = Appointment(
                clinic_id=location.clinic_id,
                location=location,
                provider_id=slot.provider_id,
                patient=patient,
                type=appointment_type,
                start=slot.start,
                end=slot.end,
                block_end=slot.block_end,
                booked_by=actor.user,
                booked_online=online,
            )
            appointment_insert(
                actor=actor,
                appointment=appointment,
                detail={"type": appointment_type.kind, "online": online},
            )
            run_after_commit(partial(after_booking, appointment.pk, moved=False))
    except IntegrityError as exc:
        if not is_overlap(exc):
            raise
        raise lost_race(
            location=location, appointment_type=appointment_type, start=start, now=now
        ) from None
    return appointment


def _check_change_allowed(
    *,
    actor: Actor,
    appointment: Appointment,
    override_cutoff: bool,
    now: dt.datetime,
    verb: str,
) -> None:
    if appointment.status != AppointmentStatus.BOOKED:
        raise SchedulingError(
            f"This appointment is {appointment.get_status_display().lower()}, so it cannot be "
            f"{verb}."
        )
    if verb == "moved" and appointment.series_id is not None:
        # A session's chair is checked with the whole series; moving one alone would bypass that.
        raise SchedulingError(
            "This infusion is part of an induction series, so it cannot be moved on its own. "
            "Cancel the session (or the series) and book again."
        )
    if appointment.start <= now:
        raise SchedulingError(f"This appointment has already started, so it cannot be {verb}.")
    is_staff = actor.user is not None and actor.user.role in STAFF_ROLES
    if override_cutoff and not is_staff:
        raise SchedulingError("Only the clinic can make late changes.", field="override_cutoff")
    cutoff = dt.timedelta(hours=policy_for(appointment.clinic_id).cancel_cutoff_hours)
    if not override_cutoff and appointment.start - now < cutoff:
        hours = int(cutoff.total_seconds() // 3600)
        raise SchedulingError(
            f"Appointments can be {verb} online up to {hours} hours before they start. "
            "Please call the clinic."
        )


def _lock_for_change(
    *,
    actor: Actor,
    appointment: Appointment,
    expected_version: int | None,
    override_cutoff: bool,
    link: ActionLink | None,
    now: dt.datetime,
    verb: str,
) -> Appointment:
    """The appointment's row, locked and checked for a move or a cancellation; a link the change
    came by is consumed in the same transaction."""
    current = lock_appointment(appointment, expected_version=expected_version)
    _check_change_allowed(
        actor=actor,
        appointment=current,
        override_cutoff=override_cutoff,
        now=now,
        verb=verb,
    )
    if link is not None:
        link_consume(link, now=now)
    return current


def _change_write(
    *,
    actor: Actor,
    current: Appointment,
    change: str,
    link: ActionLink | None,
    override_cutoff: bool,
    now: dt.datetime,
    **fields: Any,
) -> None:
    """The one way a move or a cancellation is written: the version moves on (a page opened
    before refuses its stale form), so does the invite's sequence (calendars replace the event),
    the appointment's older links stop working, one audit event."""
    announce_appointments_changed([current.patient_id])
    Appointment.objects.filter(pk=current.pk).update(
        **fields,
        version=F("version") + 1,
        sequence=F("sequence") + 1,
        updated_at=now,
    )
    links_retire(appointment=current, now=now)
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="appointment",
        object_id=current.public_id,
        patient=current.patient,
        detail={"change": change, "via_link": link is not None, "override_cutoff": override_cutoff},
    )


@retry_if_locked
def appointment_reschedule(
    *,
    actor: Actor,
    appointment: Appointment,
    provider_id: int,
    start: dt.datetime,
    expected_version: int | None = None,
    override_cutoff: bool = False,
    link: ActionLink | None = None,
    offer: WaitlistOffer | None = None,
    now: dt.datetime | None = None,
) -> Appointment:
    now = now or timezone.now()
    try:
        with transaction.atomic():
            lock_providers(appointment.provider_id, provider_id)
            current = _lock_for_change(
                actor=actor,
                appointment=appointment,
                expected_version=expected_version,
                override_cutoff=override_cutoff,
                link=link,
                now=now,
                verb="moved",
            )
            old = Slot(
                provider_id=current.provider_id,
                provider_name="",
                location_id=current.location_id,
                start=current.start,
                end=current.end,
                block_end=current.block_end,
            )
            slot = validated_slot(
                location=current.location,
                appointment_type=current.type,
                provider_id=provider_id,
                start=start,
                now=now,
                ignore_appointment_id=current.pk,
                ignore_offer_id=offer.pk if offer else None,
            )
            _refuse_patient_overlap(current.patient, slot, ignore_appointment_id=current.pk)
            if current.type.kind == AppointmentKind.INFUSION:
                day = slot.start.astimezone(zoneinfo.ZoneInfo(current.location.time_zone)).date()
                require_day_cap(
                    patient_id=current.patient_id, days=[day], ignore_appointment_id=current.pk
                )
            _change_write(
                actor=actor,
                current=current,
                change="reschedule",
                link=link,
                override_cutoff=override_cutoff,
                now=now,
                provider_id=slot.provider_id,
                start=slot.start,
                end=slot.end,
                block_end=slot.block_end,
            )
            run_after_commit(
                partial(
                    after_booking, current.pk, moved=True, freed=old, freed_type_id=current.type_id
                )
            )
    except IntegrityError as exc:
        if not is_overlap(exc):
            raise
        raise lost_race(
            location=appointment.location,
            appointment_type=appointment.type,
            start=start,
            now=now,
            ignore_appointment_id=appointment.pk,
        ) from None
    return appointment_load(appointment.pk)


def appointment_cancel(
    *,
    actor: Actor,
    appointment: Appointment,
    expected_version: int | None = None,
    override_cutoff: bool = False,
    link: ActionLink | None = None,
    now: dt.datetime | None = None,
) -> Appointment:
    now = now or timezone.now()
    with transaction.atomic():
        current = _lock_for_change(
            actor=actor,
            appointment=appointment,
            expected_version=expected_version,
            override_cutoff=override_cutoff,
            link=link,
            now=now,
            verb="cancelled",
        )
        _change_write(
            actor=actor,
            current=current,
            change="cancel",
            link=link,
            override_cutoff=override_cutoff,
            now=now,
            status=AppointmentStatus.CANCELLED,
        )
        WaitlistEntry.objects.filter(appointment=current, status=WaitlistStatus.WAITING).update(
            status=WaitlistStatus.LEFT
        )
        run_after_commit(partial(after_cancel, current.pk))
    return appointment_load(appointment.pk)


# --- patients from the booking flow ---------------------------------------------------------


def booking_patient_create(
    *,
    user: User,
    clinic: Clinic,
    details: dict[str, Any],
    home_location: Location | None,
    ip: str | None = None,
) -> Patient:
    """The Patient of a new online account, once its email is verified
    (``booking_signup_complete``), audited."""
    from ketaclinic.patients.api import patient_register

    with transaction.atomic():
        actor = Actor(user=user, ip=ip)
        patient = patient_register(
            actor=actor,
            clinic=clinic,
            given_name=str(details.get("given_name", "")),
            family_name=str(details.get("family_name", "")),
            date_of_birth=dt.date.fromisoformat(str(details.get("date_of_birth"))),
            sex=str(details.get("sex", "")),
            email=user.email,
            phone=str(details.get("phone", "")),
            home_location=home_location,
        )
        patient.user = user
        patient.save(update_fields=["user"])
    return patient
