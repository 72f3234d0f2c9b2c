"""The demo clinic's schedule and the staff pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from ketaclinic.devdata.demo import load_demo
from ketaclinic.scheduling.models import Appointment, AppointmentType, WeeklyAvailability
from tests.conftest import World
from tests.factories.scheduling import setup_schedule
from tests.scheduling.helpers import some_slots

pytestmark = pytest.mark.django_db


def test_the_demo_schedule_loads_twice_without_duplicates() -> None:
    load_demo()
    counts = (
        AppointmentType.objects.count(),
        WeeklyAvailability.objects.count(),
        Appointment.objects.count(),
    )
    load_demo()
    assert counts == (
        AppointmentType.objects.count(),
        WeeklyAvailability.objects.count(),
        Appointment.objects.count(),
    )
    assert counts[0] == 3
    assert counts[1] == 10 + 10  # the physician's half-days, two nurses' weekdays
    assert counts[2] >= 1


def test_the_front_desk_books_by_phone_and_sees_it_in_new_bookings(
    world: World, client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    sched = setup_schedule(world)
    desk = client_for("front_desk")
    slot = some_slots(sched)[0]
    url = reverse("scheduling:desk_book", kwargs={"public_id": world.alice_patient.public_id})
    with django_capture_on_commit_callbacks(execute=True):
        response = desk.post(f"{url}?location={world.cleveland.pk}", {"slot": slot.key})
    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert (appointment.booked_by, appointment.booked_online) == (world.front_desk, False)
    page = desk.get(reverse("scheduling:desk_bookings")).content.decode()
    assert world.alice_patient.mrn in page
    # The nurse sees the appointment but cannot cancel it.
    nurse = client_for("nurse")
    detail = reverse("scheduling:desk_appointment", kwargs={"public_id": appointment.public_id})
    assert nurse.get(detail).status_code == 200
    assert nurse.post(detail, {"action": "cancel"}).status_code == 404
    assert Appointment.objects.get().status == "booked"


def test_the_clinic_admin_adds_hours_and_changes_the_policy(world: World, client_for: Any) -> None:
    admin = client_for("clinic_admin")
    response = admin.post(
        reverse("scheduling:admin_availability"),
        {
            "provider": world.physician.pk,
            "location": world.charlotte.pk,
            "weekday": 2,
            "start_time": "13:00",
            "end_time": "12:00",
        },
    )
    assert response.status_code == 422
    assert WeeklyAvailability.objects.count() == 0
    response = admin.post(
        reverse("scheduling:admin_availability"),
        {
            "provider": world.other_physician.pk,
            "location": world.charlotte.pk,
            "weekday": 2,
            "start_time": "09:00",
            "end_time": "12:00",
        },
    )
    assert response.status_code == 422  # another clinic's physician is not a choice
    response = admin.post(
        reverse("scheduling:admin_availability"),
        {
            "provider": world.physician.pk,
            "location": world.charlotte.pk,
            "weekday": 2,
            "start_time": "09:00",
            "end_time": "12:00",
        },
    )
    assert response.status_code == 302
    assert WeeklyAvailability.objects.get().location == world.charlotte
    response = admin.post(
        reverse("scheduling:admin_policy"),
        {
            "lead_time_hours": 4,
            "horizon_days": 30,
            "cancel_cutoff_hours": 48,
            "waitlist_hold_minutes": 90,
        },
    )
    assert response.status_code == 302
    assert world.clinic.booking_policy.cancel_cutoff_hours == 48
