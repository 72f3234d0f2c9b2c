"""Background jobs of the schedule, run by ``ketaclinic db_worker``."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks import task

from ketaclinic.audit.models import Action
from ketaclinic.audit.services import Actor, audit_record
from ketaclinic.scheduling import emails
from ketaclinic.scheduling.models import Appointment, AppointmentStatus, SentReminder


@task()
def appointment_reminder(appointment_id: int, kind: str, start_iso: str) -> str:
    """Send one reminder, at most once.

    Re-checks at run time that the appointment is still booked at the time it was enqueued for
    (a moved appointment has its own, newer jobs). The SentReminder row is claimed and committed
    before the email goes out: the unique constraint lets only one worker past, even if a
    restarted worker runs the job again. The trade-off is at-most-once: a crash between the
    commit and the send loses that reminder rather than sending it twice.
    """
    appointment = (
        Appointment.objects.select_related("location__clinic", "type", "patient", "provider")
        .filter(pk=appointment_id)
        .first()
    )
    if appointment is None or appointment.status != AppointmentStatus.BOOKED:
        return "skipped: not booked"
    if appointment.start != dt.datetime.fromisoformat(start_iso):
        return "skipped: moved"
    if appointment.start <= timezone.now():
        return "skipped: started"
    try:
        with transaction.atomic():
            SentReminder.objects.create(appointment=appointment, kind=kind, start=appointment.start)
            audit_record(
                actor=Actor(user=None),
                action=Action.READ,
                object_type="appointment_reminder",
                object_id=appointment.public_id,
                patient=appointment.patient,
                detail={"kind": kind},
            )
    except IntegrityError:
        return "skipped: already sent"
    emails.send_reminder(appointment, kind=kind)
    return "sent"


@task()
def waitlist_offer_expire(offer_id: int) -> str:
    from ketaclinic.scheduling.services import waitlist_offer_expire as expire

    offer = expire(offer_id=offer_id)
    return f"offered to next ({offer.pk})" if offer is not None else "nothing to do"
