"""Background jobs of the schedule, run by ``ketaclinic worker``.

The worker has no clock of its own: every job is enqueued with ``run_after``. One-off jobs
(reminders, a freed slot offered to the waitlist, the end of an offer's hold) are enqueued by name
by the services that need them (``lib.tasks.enqueue``); this module imports the services, never
the reverse. The daily link purge is a periodic job: registered in ``lib.tasks.PERIODIC_JOBS``,
started by the worker, and enqueuing its own next run each time it starts.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks import task

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.lib.tasks import ALREADY_RUN, periodic_continue
from ketaclinic.scheduling import emails, links, services
from ketaclinic.scheduling.models import Appointment, AppointmentStatus, SentReminder


@task()
def appointment_reminder(appointment_id: int, kind: str, start_iso: str) -> str:
    """Send one reminder, exactly once as far as a crash of the worker goes.

    Re-checks at run time that the appointment is still booked at the time it was enqueued for
    (a moved appointment has its own, newer jobs). The SentReminder row, its audit event and the
    send happen in one transaction, and the row commits only after the mail server accepted the
    message. A worker killed before that commit leaves no row, so the job, run again (the RQ
    worker re-runs a job whose worker died: ``lib/rq_recovery.py``), sends it; a run that finds
    the row skips. While one run holds the uncommitted row, a second run of the same job waits on
    the unique constraint and then skips, so two runs never both send.

    The one gap left is at the mail server: a worker killed after the server accepted the message
    and before the commit sends it again. That copy carries the same Message-ID
    (``emails.reminder_message_id``), so it is recognisably the same message. The price is a
    database transaction held open for the length of one send; a send that fails rolls the claim
    back and the job is recorded as failed, with nothing marked as sent.
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
            # Inside the transaction on purpose (the exception to "email on commit"): the claim
            # must not outlive a send that never happened.
            emails.send_reminder(appointment, kind=kind)
    except IntegrityError:
        return "skipped: already sent"
    return "sent"


@task()
def waitlist_offer_next(provider_id: int, location_id: int, type_id: int, start_iso: str) -> str:
    """Offer a freed slot (a cancelled or moved appointment's) to the waitlist."""
    offer = services.waitlist_offer_next(
        provider_id=provider_id,
        location_id=location_id,
        type_id=type_id,
        start=dt.datetime.fromisoformat(start_iso),
    )
    return f"offered ({offer.pk})" if offer is not None else "nobody to offer it to"


@task()
def waitlist_offer_expire(offer_id: int) -> str:
    """End an offer's hold, unless it was answered, and offer the slot to the next in line."""
    offer = services.waitlist_offer_expire(offer_id=offer_id)
    return f"offered to next ({offer.pk})" if offer is not None else "nothing to do"


# --- periodic jobs ----------------------------------------------------------------------------

DEFAULT_LINK_RETENTION_DAYS = 30


def link_retention_days() -> int:
    return int(getattr(settings, "ACTION_LINK_RETENTION_DAYS", DEFAULT_LINK_RETENTION_DAYS))


@task()
def action_link_purge() -> str:
    """Delete emailed links used or expired more than the retention period ago; daily.

    Idempotent: a second run finds nothing left to delete. The next run is enqueued first, so a
    failure here does not end the schedule.
    """
    if not periodic_continue(action_link_purge):
        return ALREADY_RUN
    deleted = links.links_purge(older_than=dt.timedelta(days=link_retention_days()))
    return f"deleted {deleted}"


@task()
def booking_signup_purge() -> str:
    """Delete the details of booking sign-ups whose email was not verified within the retention
    period (``services.SIGNUP_RETENTION``); daily, idempotent, next run enqueued first."""
    if not periodic_continue(booking_signup_purge):
        return ALREADY_RUN
    deleted = services.booking_signups_purge()
    return f"deleted {deleted}"
