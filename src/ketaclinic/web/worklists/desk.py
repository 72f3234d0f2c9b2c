"""The front desk's day: arrivals, new online bookings, waitlist offers out, no-shows."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from django.urls import reverse

from ketaclinic.accounts.models import User
from ketaclinic.scheduling.api import (
    appointments_today,
    new_bookings,
    no_shows_to_call,
    waitlist_offers_out,
)
from ketaclinic.scheduling.models import Appointment, AppointmentStatus
from ketaclinic.web.worklists.common import (
    NEW_BOOKINGS_DAYS,
    Line,
    Section,
    day_at,
    patient_url,
    read_section,
    time_at,
)

# --- front desk ------------------------------------------------------------------------------


def front_desk_sections(user: User, now: dt.datetime, counts_only: bool) -> list[Section]:
    arrivals = appointments_today(user=user, now=now)

    def arrival(a: Appointment) -> Line:
        url = reverse("scheduling:desk_appointment", kwargs={"public_id": a.public_id})
        state = "Arrived" if a.status == AppointmentStatus.ARRIVED else "Expected"
        return Line(
            a.patient.full_name, url, f"{time_at(a)} · {a.type.name} · {a.location.name}", state
        )

    def booking(a: Appointment) -> Line:
        url = reverse("scheduling:desk_appointment", kwargs={"public_id": a.public_id})
        return Line(
            a.patient.full_name,
            url,
            f"{a.type.name} on {day_at(a.start, a.location)} · {a.location.name}",
        )

    def offer(o: Any) -> Line:
        return Line(
            o.entry.patient.full_name,
            patient_url(o.entry.patient),
            f"Offered {day_at(o.start, o.location)} · answer by {day_at(o.expires_at, o.location)}",
        )

    def no_show(a: Appointment) -> Line:
        phone = f" · {a.patient.phone}" if a.patient.phone else ""
        return Line(
            a.patient.full_name,
            patient_url(a.patient),
            f"Missed {a.type.name} on {day_at(a.start, a.location)}{phone}",
        )

    since = now - dt.timedelta(days=NEW_BOOKINGS_DAYS)
    expected = arrivals.filter(status=AppointmentStatus.BOOKED)
    arrivals_section = read_section(
        "arrivals",
        "Today's arrivals",
        arrivals,
        arrival,
        empty="No appointments today.",
        more_url=reverse("scheduling:schedule"),
        counts_only=counts_only,
    )
    return [
        # Counted: the patients still expected, not those already checked in.
        dataclasses.replace(arrivals_section, counted=expected.count()),
        read_section(
            "bookings",
            "New online bookings",
            new_bookings(user=user, since=since).filter(booked_online=True),
            booking,
            empty="No online booking in the last week.",
            more_url=reverse("scheduling:desk_bookings"),
            counts_only=counts_only,
        ),
        read_section(
            "offers",
            "Waitlist offers out",
            waitlist_offers_out(user=user, now=now),
            offer,
            empty="No offer is waiting for an answer.",
            counts_only=counts_only,
            # Waiting on the patient's answer, not on the desk: shown, not counted.
            actionable=False,
        ),
        read_section(
            "no_shows",
            "No-shows to call back",
            no_shows_to_call(user=user, now=now),
            no_show,
            empty="No one to call back.",
            counts_only=counts_only,
        ),
    ]
