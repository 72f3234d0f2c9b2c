"""The front desk books any appointment type it may book, at the patient's home location unless
it picks another (issue 16 item 2); infusions are not booked here, and a forged choice books
nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.models import Appointment, AppointmentKind, AppointmentType
from ketaclinic.scheduling.slots import free_slots
from tests import factories
from tests.conftest import World
from tests.factories.scheduling import (
    Sched,
    consultation_appointment,
    infusion_type,
    setup_schedule,
    weekly_hours,
)
from tests.scheduling.helpers import snapshot

pytestmark = pytest.mark.django_db


def book_url(patient: Patient) -> str:
    return reverse("scheduling:desk_book", kwargs={"public_id": patient.public_id})


@pytest.fixture
def sched(world: World) -> Sched:
    return setup_schedule(world)


@pytest.fixture
def follow_up(world: World) -> AppointmentType:
    return AppointmentType.objects.create(
        clinic=world.clinic,
        kind=AppointmentKind.FOLLOW_UP,
        name="Follow-up visit",
        duration_min=20,
        buffer_min=10,
    )


def test_the_desk_books_a_follow_up_visit(
    world: World, client_for: Any, sched: Sched, follow_up: AppointmentType
) -> None:
    desk = client_for("front_desk")
    page = desk.get(book_url(world.alice_patient)).content.decode()
    assert f'<option value="{sched.consultation.pk}" selected>New patient consultation' in page
    assert f'<option value="{follow_up.pk}">Follow-up visit</option>' in page
    day = timezone.localdate() + dt.timedelta(days=3)
    slot = free_slots(
        location=world.cleveland, appointment_type=follow_up, day_from=day, day_to=day
    )[0]
    query = f"?location={world.cleveland.pk}&type={follow_up.pk}"
    choice = desk.get(book_url(world.alice_patient) + query).content.decode()
    assert "Follow-up visit at Cleveland" in choice
    assert f"?location={world.cleveland.pk}&amp;type={follow_up.pk}&amp;from=" in choice
    response = desk.post(book_url(world.alice_patient) + query, {"slot": slot.key})
    appointment = Appointment.objects.get()
    assert response["Location"] == f"/desk/appointments/{appointment.public_id}/"
    assert appointment.type == follow_up
    assert appointment.end - appointment.start == dt.timedelta(minutes=20)


def test_infusions_and_inactive_types_are_not_offered_and_a_forged_one_books_nothing(
    world: World, client_for: Any, sched: Sched
) -> None:
    infusion = infusion_type(world.clinic)
    retired = AppointmentType.objects.create(
        clinic=world.clinic, kind="follow_up", name="Old review", duration_min=20, is_active=False
    )
    desk = client_for("front_desk")
    page = desk.get(book_url(world.alice_patient)).content.decode()
    assert infusion.name not in page.split('id="id_type"')[1].split("</select>")[0]
    assert "Old review" not in page
    assert "booked from the patient's signed treatment plan" in page
    slot = free_slots(
        location=world.cleveland,
        appointment_type=sched.consultation,
        day_from=timezone.localdate() + dt.timedelta(days=3),
        day_to=timezone.localdate() + dt.timedelta(days=3),
    )[0]
    before = snapshot()
    for forged in (infusion, retired):
        response = desk.post(
            book_url(world.alice_patient) + f"?type={forged.pk}", {"slot": slot.key}
        )
        assert response.status_code == 422
        assert "Appointment type: Select a valid choice." in response.content.decode()
    assert snapshot() == before == []


def test_a_location_of_another_clinic_is_refused_naming_the_field(
    world: World, client_for: Any, sched: Sched
) -> None:
    elsewhere = world.other_physician.locations.get()
    response = client_for("front_desk").get(
        book_url(world.alice_patient), {"location": elsewhere.pk}
    )
    assert response.status_code == 422
    assert "Location: Select a valid choice." in response.content.decode()


def test_the_page_opens_on_the_patients_home_location(
    world: World, client_for: Any, sched: Sched
) -> None:
    # Charlotte sorts first; Bob lives in Charlotte, Alice in Cleveland.
    weekly_hours(world.physician, world.charlotte, hours=(9, 17))
    desk = client_for("front_desk")
    alice = desk.get(book_url(world.alice_patient))
    assert alice.context["location"] == world.cleveland
    assert f'<option value="{world.cleveland.pk}" selected>Cleveland (home)</option>' in (
        alice.content.decode()
    )
    assert "Home location: Cleveland." in alice.content.decode()
    assert desk.get(book_url(world.bob_patient)).context["location"] == world.charlotte


def test_without_a_home_location_the_latest_appointments_location_is_the_default(
    world: World, client_for: Any, sched: Sched
) -> None:
    patient = factories.make_patient(world.clinic, given="Nomad", family="Nohome")
    desk = client_for("front_desk")
    # No home, no appointment: the clinic's first location (Charlotte, by name).
    assert desk.get(book_url(patient)).context["location"] == world.charlotte
    consultation_appointment(sched, patient, timezone.now() - dt.timedelta(days=30))
    page = desk.get(book_url(patient))
    assert page.context["location"] == world.cleveland
    assert "No home location on the record" in page.content.decode()
