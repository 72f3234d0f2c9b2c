"""The place line of the booking and reminder emails: name, address and city, each once,
separated by commas, whatever of them the location has."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from ketaclinic.clinics.models import Location
from ketaclinic.scheduling import emails
from ketaclinic.scheduling.models import Appointment
from tests.conftest import World
from tests.factories.scheduling import consultation_appointment, setup_schedule


def _sent(world: World, kind: str, address: str) -> str:
    sched = setup_schedule(world)
    Location.objects.filter(pk=world.cleveland.pk).update(address=address)
    start = dt.datetime(2030, 3, 4, 15, 0, tzinfo=dt.UTC)
    booked = consultation_appointment(sched, world.alice_patient, start)
    appointment = Appointment.objects.select_related("location", "patient", "provider", "type").get(
        pk=booked.pk
    )
    mail.outbox.clear()
    if kind == "confirmation":
        emails.send_confirmation(appointment, reschedule_token="r", cancel_token="c", moved=False)
    else:
        emails.send_reminder(appointment, kind="day_before")
    (message,) = mail.outbox
    return str(message.body)


@pytest.mark.parametrize("kind", ["confirmation", "reminder"])
def test_the_place_line_reads_name_address_city(world: World, kind: str) -> None:
    assert "  Cleveland, 1 Lakeshore Drive, Cleveland\n" in _sent(world, kind, "1 Lakeshore Drive")


@pytest.mark.parametrize("kind", ["confirmation", "reminder"])
def test_a_location_without_an_address_leaves_no_gap(world: World, kind: str) -> None:
    body = _sent(world, kind, "")
    assert "  Cleveland, Cleveland\n" in body
    assert ",  " not in body
