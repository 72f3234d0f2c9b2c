"""Loose ends of issue 16 ("Daily use"), each as the desk meets it: the schedule does not offer
"Completed" while the patient is in a chair, and the service refuses it too."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ketaclinic.audit.models import AuditEvent
from ketaclinic.infusions.models import SessionStatus
from ketaclinic.lib.when import local_text
from ketaclinic.outcomes.diary import services as outcome_services
from ketaclinic.plans.models import Plan
from ketaclinic.scheduling import services
from ketaclinic.scheduling.models import Appointment, AppointmentStatus
from tests.conftest import World
from tests.factories.base import actor
from tests.factories.infusions import arrive, day_at
from tests.factories.outcomes import ready_letter
from tests.factories.scheduling import consultation_appointment, setup_schedule, today_start

pytestmark = pytest.mark.django_db


def _schedule_today(world: World, client: Client) -> str:
    day = timezone.now().astimezone(zoneinfo.ZoneInfo(world.cleveland.time_zone)).date()
    url = reverse("scheduling:schedule")
    response = client.get(url, {"location": str(world.cleveland.pk), "date": day.isoformat()})
    assert response.status_code == 200
    return response.content.decode()


def _item_of(page: str, appointment: Appointment) -> str:
    """The schedule item (its <details>) that carries this appointment's forms."""
    items: list[str] = re.findall(r'<details class="sched-item.*?</details>', page, flags=re.S)
    mine = [i for i in items if str(appointment.public_id) in i]
    assert mine, "the appointment is on the schedule"
    return mine[0]


# == "Completed" while the patient is in a chair ==================================================


def test_the_schedule_does_not_offer_completed_while_the_patient_is_in_a_chair(
    world: World, client_for: Any
) -> None:
    session = arrive(world).session
    appointment = Appointment.objects.get(infusion_session=session)
    assert appointment.status == AppointmentStatus.ARRIVED
    # A consultation that arrived at the same time is still completed from the schedule.
    consult = consultation_appointment(
        setup_schedule(world), world.bob_patient, today_start(world.cleveland)
    )
    Appointment.objects.filter(pk=consult.pk).update(status=AppointmentStatus.ARRIVED)
    page = _schedule_today(world, client_for("front_desk"))
    in_chair = _item_of(page, appointment)
    assert 'value="completed"' not in in_chair
    assert "Discharge on the chart completes this appointment." in in_chair
    assert 'value="completed"' in _item_of(page, consult)


def test_the_service_refuses_completed_while_the_chair_session_is_open_and_changes_nothing(
    world: World, client_for: Any
) -> None:
    session = arrive(world).session
    appointment = Appointment.objects.get(infusion_session=session)
    updates = AuditEvent.objects.filter(
        object_type="appointment", object_id=str(appointment.public_id), action="update"
    )
    version, written = appointment.version, updates.count()
    with pytest.raises(services.SchedulingError, match="the infusion chart is still open"):
        services.appointment_status_change(
            actor=actor(world.front_desk), appointment=appointment, status="completed"
        )
    # The page's form, posted anyway (a page opened before the check-in): refused, named.
    response = client_for("front_desk").post(
        reverse(
            "scheduling:schedule_appointment_status", kwargs={"public_id": appointment.public_id}
        ),
        {"action": "completed", "version": version},
        follow=True,
    )
    assert "the infusion chart is still open" in response.content.decode()
    appointment.refresh_from_db()
    assert (appointment.status, appointment.version) == (AppointmentStatus.ARRIVED, version)
    assert updates.count() == written


def test_the_charts_discharge_completes_the_appointment(world: World) -> None:
    day = day_at(world, "discharged")
    assert day.reload().status == SessionStatus.DISCHARGED
    assert Appointment.objects.get(infusion_session=day.session).status == "completed"


# == times in the location's zone, on every page that shows them =================================

CHICAGO, NEW_YORK = "America/Chicago", "America/New_York"


def _in_chicago(world: World) -> None:
    """Cleveland moved to Chicago's zone: an hour behind the project's own (New York)."""
    world.cleveland.time_zone = CHICAGO
    world.cleveland.save()
    world.alice_patient.refresh_from_db()


def _at_ten_to(days: int) -> dt.datetime:
    """21:50 UTC ``days`` from today: 3:50 PM in Chicago in winter, 4:50 PM in New York."""
    return (timezone.now() + dt.timedelta(days=days)).replace(
        hour=21, minute=50, second=0, microsecond=0
    )


def test_the_desk_pages_show_a_chicago_visit_in_chicago_time(world: World, client_for: Any) -> None:
    _in_chicago(world)
    start = _at_ten_to(3)
    a = consultation_appointment(setup_schedule(world), world.alice_patient, start)
    desk = client_for("front_desk")
    url = reverse("scheduling:desk_appointment", kwargs={"public_id": a.public_id})
    page = desk.get(url).content.decode()
    assert local_text(start, CHICAGO, "l j F Y, g:i A") in page
    assert local_text(start, NEW_YORK, "l j F Y, g:i A", zone=False) not in page
    page = desk.get(reverse("scheduling:desk_bookings")).content.decode()
    assert local_text(start, CHICAGO, "D j M, g:i A") in page
    assert local_text(start, NEW_YORK, "D j M, g:i A") not in page


def test_the_chart_lists_visits_to_come_soonest_first_then_the_past_newest_first_in_their_zone(
    world: World, client_for: Any
) -> None:
    _in_chicago(world)
    sched = setup_schedule(world)
    starts = {days: _at_ten_to(days) for days in (-30, -2, 2, 10)}
    for start in starts.values():
        consultation_appointment(sched, world.alice_patient, start)
    url = reverse("patients:detail", kwargs={"public_id": world.alice_patient.public_id})
    page = client_for("front_desk").get(url).content.decode()
    shown = {d: local_text(s, CHICAGO, "M j, Y g:i A") for d, s in starts.items()}
    coming, timeline = page.split('id="timeline-heading"')
    assert 'data-testid="coming"' in coming
    assert coming.index(shown[2]) < coming.index(shown[10])
    assert timeline.index(shown[-2]) < timeline.index(shown[-30])
    assert shown[2] not in timeline
    assert shown[-2] not in coming
    assert local_text(starts[2], NEW_YORK, "M j, Y g:i A") not in page


def test_the_infusion_session_and_the_plan_show_chicago_time(world: World, client_for: Any) -> None:
    _in_chicago(world)
    session = arrive(world).session
    nurse = client_for("nurse")
    page = nurse.get(reverse("infusions:session", kwargs={"public_id": session.public_id}))
    assert local_text(session.arrived_at, CHICAGO, "D j M, H:i") in page.content.decode()
    plan = Plan.objects.get(patient=world.alice_patient)
    assert plan.signed_at is not None
    page = client_for("physician").get(
        reverse("plans:plan_detail", kwargs={"plan_id": plan.public_id})
    )
    assert local_text(plan.signed_at, CHICAGO, "M j, Y, g:i A") in page.content.decode()


def test_letters_and_reminders_are_in_the_patients_zone(world: World, client_for: Any) -> None:
    _in_chicago(world)
    letter = ready_letter(world)
    url = reverse(
        "outcomes:staff_patient_letters", kwargs={"public_id": world.alice_patient.public_id}
    )
    page = client_for("physician").get(url).content.decode()
    assert local_text(letter.created_at, CHICAGO, "j M Y, g:i A") in page
    outcome_services.reminder_schedule_save(
        actor=actor(world.alice),
        patient=world.alice_patient,
        enabled=True,
        time_of_day=dt.time(19, 0),
        daily_nrs=True,
        weekly_peg=False,
        peg_weekday=6,
    )
    page = client_for("alice").get(reverse("outcomes:my_diary_reminders")).content.decode()
    # 7 PM in Chicago; New York's clock would say 20:00.
    assert re.search(r"Next reminder: \w+ \d+ \w+, 19:00\.", page)


# == the schedule's quick find: no patient data in the URL, and booking at the usual location ====


def test_book_by_phone_on_another_sites_schedule_opens_at_the_patients_usual_location(
    world: World, client_for: Any
) -> None:
    setup_schedule(world)
    desk = client_for("front_desk")
    schedule = reverse("scheduling:schedule")
    here = f"{schedule}?location={world.charlotte.pk}&view=day"
    response = desk.post(schedule, {"find": world.alice_patient.mrn, "next": here})
    assert response["Location"] == f"{here}#book-by-phone"
    assert world.alice_patient.mrn not in response["Location"]
    page = desk.get(response["Location"]).content.decode()
    book = reverse("scheduling:desk_book", kwargs={"public_id": world.alice_patient.public_id})
    # Alice lives by Cleveland: the plain link books there; Charlotte is a choice, labelled.
    assert f'href="{book}" data-testid="book-usual">Book at Cleveland (usual)</a>' in page
    assert (
        f'href="{book}?location={world.charlotte.pk}" data-testid="book-here">'
        "or at Charlotte (this schedule)</a>"
    ) in page
    booking = desk.get(book).content.decode()
    assert "New patient consultation at Cleveland</h2>" in booking
    chosen = desk.get(book, {"location": world.charlotte.pk}).content.decode()
    assert "New patient consultation at Charlotte</h2>" in chosen


def test_a_nurse_cannot_post_a_quick_find_and_nothing_is_kept(
    world: World, client_for: Any
) -> None:
    nurse = client_for("nurse")
    response = nurse.post(reverse("scheduling:schedule"), {"find": "Moreno"})
    assert response.status_code == 404
    assert "scheduling.find" not in nurse.session
