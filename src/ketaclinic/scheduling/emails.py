"""Emails and the iCalendar invite. Called on commit by services and by tasks, never inside a
transaction that could still roll back.

icalendar (about 8 MiB with its time-zone tables) is imported when an invite is built, not with
the module: the booking services import it on every page that books, most of which send no
invite (docs/benchmarks.md "Web worker memory")."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from email.mime.text import MIMEText
from urllib.parse import urlsplit

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from ketaclinic.clinics.api import clinic_brand
from ketaclinic.lib.email import address_of, clinic_email
from ketaclinic.scheduling.models import Appointment, WaitlistOffer
from ketaclinic.scheduling.selectors import change_window

PRODID = "-//ketaclinic//scheduling//EN"


def ics_uid(appointment: Appointment) -> str:
    # Stable for the life of the appointment so calendars update the same event.
    return f"appointment-{appointment.public_id}@ketaclinic"


def appointment_ics(appointment: Appointment, *, method: str) -> bytes:
    """METHOD:REQUEST (new or moved, SEQUENCE raised on each move) or METHOD:CANCEL."""
    from icalendar import Calendar, Event, vCalAddress

    tz = zoneinfo.ZoneInfo(appointment.location.time_zone)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", method)
    event = Event()
    event.add("uid", ics_uid(appointment))
    event.add("sequence", appointment.sequence)
    event.add("dtstamp", timezone.now().astimezone(dt.UTC))
    event.add("dtstart", appointment.start.astimezone(tz))
    event.add("dtend", appointment.end.astimezone(tz))
    event.add("summary", f"{appointment.type.name} · {appointment.location.clinic.name}")
    location = appointment.location
    event.add(
        "location", ", ".join(p for p in (location.name, location.address, location.city) if p)
    )
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    brand = clinic_brand(appointment.location.clinic_id)
    organizer = vCalAddress(f"mailto:{address_of(brand.from_email)}")
    organizer.params["cn"] = brand.name
    event.add("organizer", organizer)
    if appointment.patient.email:
        attendee = vCalAddress(f"mailto:{appointment.patient.email}")
        attendee.params["role"] = "REQ-PARTICIPANT"
        event.add("attendee", attendee)
    cal.add_component(event)
    # VTIMEZONE for the location's zone, so DTSTART;TZID=America/New_York resolves everywhere.
    cal.add_missing_timezones()
    return bytes(cal.to_ical())


def _url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _local(appointment: Appointment) -> dt.datetime:
    return appointment.start.astimezone(zoneinfo.ZoneInfo(appointment.location.time_zone))


def _send(
    *,
    clinic_id: int,
    to: str,
    subject: str,
    template: str,
    context: dict[str, object],
    ics: bytes | None = None,
    method: str = "REQUEST",
    message_id: str | None = None,
) -> None:
    """One email from the clinic (its sender, name and signature: ``lib/email.py``). Without
    ``message_id`` the mail library makes a new one for each send."""
    if not to:
        return
    brand = clinic_brand(clinic_id)
    body = render_to_string(template, {**context, "brand": brand})
    message = clinic_email(
        sender=brand,
        subject=subject,
        body=body,
        to=[to],
        headers={"Message-ID": message_id} if message_id else None,
    )
    if ics is not None:
        part = MIMEText(ics.decode("utf-8"), "calendar", "utf-8")
        part.set_param("method", method)
        part.add_header("Content-Disposition", "attachment", filename="appointment.ics")
        message.attach(part)
    message.send()


def send_confirmation(
    appointment: Appointment, *, reschedule_token: str, cancel_token: str, moved: bool
) -> None:
    from django.urls import reverse

    context = {
        "appointment": appointment,
        "local_start": _local(appointment),
        "moved": moved,
        # The same deadline the portal shows: online changes until then, a call after.
        "change_deadline": change_window(appointment).deadline,
        "reschedule_url": _url(reverse("scheduling:link_reschedule", args=[reschedule_token])),
        "cancel_url": _url(reverse("scheduling:link_cancel", args=[cancel_token])),
    }
    subject = "Your appointment has moved" if moved else "Your appointment is booked"
    _send(
        clinic_id=appointment.location.clinic_id,
        to=appointment.patient.email,
        subject=subject,
        template="scheduling/email/confirmation.txt",
        context=context,
        ics=appointment_ics(appointment, method="REQUEST"),
    )


def send_cancellation(appointment: Appointment) -> None:
    _send(
        clinic_id=appointment.location.clinic_id,
        to=appointment.patient.email,
        subject="Your appointment is cancelled",
        template="scheduling/email/cancellation.txt",
        context={"appointment": appointment, "local_start": _local(appointment)},
        ics=appointment_ics(appointment, method="CANCEL"),
        method="CANCEL",
    )


def send_location_notice(appointment: Appointment, *, what: str) -> None:
    from django.urls import reverse

    _send(
        clinic_id=appointment.location.clinic_id,
        to=appointment.location.email,
        subject=f"{what}: {appointment.type.name} at {appointment.location.name}",
        template="scheduling/email/location_notice.txt",
        context={
            "appointment": appointment,
            "local_start": _local(appointment),
            "what": what,
            "desk_url": _url(reverse("scheduling:desk_bookings")),
        },
    )


def reminder_message_id(appointment: Appointment, *, kind: str) -> str:
    """The reminder's Message-ID, the same at every send: derived from the appointment's public
    id, the kind and the start it reminds of (a moved appointment's reminder is a new message).

    A worker killed after the mail server accepted the reminder but before its record committed
    sends it again when the job is run again (``scheduling/tasks.py`` ``appointment_reminder``);
    with the same Message-ID the second copy is recognisably the same message (mail servers and
    clients that de-duplicate drop it)."""
    at = appointment.start.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    host = urlsplit(settings.SITE_URL).hostname or "ketaclinic"
    return f"<reminder.{kind}.{at}.{appointment.public_id}@{host}>"


def send_reminder(appointment: Appointment, *, kind: str) -> None:
    _send(
        clinic_id=appointment.location.clinic_id,
        to=appointment.patient.email,
        subject="Reminder: your appointment",
        template="scheduling/email/reminder.txt",
        context={"appointment": appointment, "local_start": _local(appointment), "kind": kind},
        message_id=reminder_message_id(appointment, kind=kind),
    )


def send_waitlist_offer(offer: WaitlistOffer, *, token: str) -> None:
    from django.urls import reverse

    tz = zoneinfo.ZoneInfo(offer.location.time_zone)
    _send(
        clinic_id=offer.location.clinic_id,
        to=offer.entry.patient.email,
        subject="An earlier appointment is free",
        template="scheduling/email/waitlist_offer.txt",
        context={
            "offer": offer,
            "local_start": offer.start.astimezone(tz),
            "local_expires": offer.expires_at.astimezone(tz),
            "accept_url": _url(reverse("scheduling:link_waitlist", args=[token])),
        },
    )
