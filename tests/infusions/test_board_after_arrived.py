"""One arrival, whoever records it first (issue 16 item 2): "Arrived" on the desk's schedule
keeps the infusion patient on the chair board, as "Arrived — waiting for a chair", and the
nurse's check-in goes on from there; a consultation's arrival shows on the schedule."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from ketaclinic.audit.models import AuditEvent
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.scheduling.models import Appointment, AppointmentStatus
from tests.conftest import World
from tests.factories.infusions import new_patient
from tests.factories.plans import make_plan as signed_plan
from tests.factories.scheduling import chair, infusion_appointment

pytestmark = pytest.mark.django_db


def board(world: World) -> str:
    return f"/infusions/board/{world.cleveland.pk}/"


def desk_marks_arrived(client: Client, appointment: Appointment) -> None:
    response = client.post(
        f"/desk/schedule/appointments/{appointment.public_id}/status/",
        {"action": "arrived", "version": appointment.version},
    )
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.ARRIVED


def test_a_patient_the_desk_marked_arrived_stays_on_the_board_waiting_for_a_chair(
    world: World, client_for: Any
) -> None:
    signed_plan(world, world.alice_patient)
    appointment = infusion_appointment(world, world.alice_patient)
    desk_marks_arrived(client_for("front_desk"), appointment)
    page = client_for("nurse").get(board(world)).content.decode()
    assert "Alice Moreno" in page
    assert 'data-state="waiting"' in page
    assert "Arrived — waiting for a chair" in page
    assert f'action="/infusions/appointments/{appointment.public_id}/arrive/"' in page
    assert ">Check in<" in page
    assert "{#" not in page  # no template comment shown as text


def test_the_nurse_checks_in_a_patient_the_desk_marked_arrived(
    world: World, client_for: Any
) -> None:
    signed_plan(world, world.alice_patient)
    appointment = infusion_appointment(world, world.alice_patient)
    desk_marks_arrived(client_for("front_desk"), appointment)
    version = appointment.version
    nurse = client_for("nurse")
    response = nurse.post(
        f"/infusions/appointments/{appointment.public_id}/arrive/",
        {"chair": chair(world, "Chair 2").pk},
    )
    session = InfusionSession.objects.get()
    assert response["Location"] == f"/infusions/sessions/{session.public_id}/"
    assert session.chair == chair(world, "Chair 2")
    appointment.refresh_from_db()
    # Still the one arrival the desk recorded: not written twice.
    assert appointment.status == AppointmentStatus.ARRIVED
    assert appointment.version == version
    assert (
        AuditEvent.objects.filter(
            object_type="appointment", object_id=str(appointment.public_id), action="update"
        ).count()
        == 1
    )
    page = nurse.get(board(world)).content.decode()
    assert 'data-state="waiting"' not in page
    assert 'data-state="arrived"' in page
    assert 'data-chair="Chair 2"' in page


def test_a_nurses_check_in_shows_as_arrived_on_the_desks_schedule(
    world: World, client_for: Any
) -> None:
    signed_plan(world, world.alice_patient)
    appointment = infusion_appointment(world, world.alice_patient)
    client_for("nurse").post(f"/infusions/appointments/{appointment.public_id}/arrive/", {})
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.ARRIVED
    page = (
        client_for("front_desk")
        .get("/desk/schedule/", {"location": world.cleveland.pk})
        .content.decode()
    )
    assert '<span class="sched-state">Arrived</span>' in page


@pytest.mark.parametrize("status", [AppointmentStatus.NO_SHOW, AppointmentStatus.CANCELLED])
def test_an_appointment_that_did_not_arrive_cannot_be_checked_in(
    world: World, client_for: Any, status: AppointmentStatus
) -> None:
    appointment = infusion_appointment(world, world.alice_patient, status=status)
    assert "Alice Moreno" not in client_for("nurse").get(board(world)).content.decode()
    response = client_for("nurse").post(
        f"/infusions/appointments/{appointment.public_id}/arrive/", {}, follow=True
    )
    assert "it cannot be checked in" in response.content.decode()
    assert InfusionSession.objects.count() == 0
    appointment.refresh_from_db()
    assert appointment.status == status


def test_the_board_query_count_is_the_same_with_patients_waiting(
    world: World, client_for: Any, django_assert_max_num_queries: Any
) -> None:
    def arrived_patient() -> None:
        patient = new_patient(world)
        signed_plan(world, patient)
        infusion_appointment(world, patient, status=AppointmentStatus.ARRIVED)

    arrived_patient()
    nurse: Client = client_for("nurse")
    nurse.get(board(world))
    with django_assert_max_num_queries(17) as few:
        nurse.get(board(world))
    for _ in range(4):
        arrived_patient()
    with django_assert_max_num_queries(len(few)):
        page = nurse.get(board(world)).content.decode()
    assert page.count('data-state="waiting"') == 5
