"""Issue 16 item 1: each staff home is "what needs me today", each line a link to where the work
is done, with the count the navigation shows beside "Home"; the patient's home shows her next
visit, what her diary asks today and her plan.

The homes read a fixed number of queries whatever the clinic's work (each section: its count
and its first lines), so each role's home is measured with one row of every kind and with more
rows than a section shows.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ketaclinic.accounts.models import Role, StaffInvitation
from ketaclinic.audit.models import Action, AuditEvent
from ketaclinic.clinics.models import PolicyProposal
from ketaclinic.infusions.models import DoseDeviation, SessionStatus
from ketaclinic.lib.tasks import PERIODIC_JOBS
from ketaclinic.outcomes.models import NRS_LOINC, BoosterSuggestion, DiaryEntry
from ketaclinic.outcomes.timing import patient_zone
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.models import (
    AppointmentKind,
    AppointmentStatus,
    AppointmentType,
    WaitlistEntry,
    WaitlistOffer,
)
from ketaclinic.web.models import JobOutcome, JobRun
from ketaclinic.web.worklists import LIMIT
from tests import factories
from tests.conftest import World
from tests.factories import plans as plan_factories
from tests.factories.infusions import bare_session, charted_session, new_patient
from tests.factories.scheduling import (
    Sched,
    chair,
    consultation_appointment,
    infusion_appointment,
    setup_schedule,
)

pytestmark = pytest.mark.django_db

MANY = LIMIT + 2


def _local_midnight(world: World) -> dt.datetime:
    tz = zoneinfo.ZoneInfo(world.cleveland.time_zone)
    return timezone.now().astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)


def _section(page: str, key: str) -> str:
    found = re.search(rf'data-testid="worklist-{key}">(.*?)</section>', page, re.S)
    assert found is not None, f"no section {key}"
    return found.group(1)


def _links(html: str) -> list[str]:
    return re.findall(r'<a [^>]*href="([^"]+)"', html)


def _home(client: Client) -> str:
    response = client.get("/home/")
    assert response.status_code == 200
    return response.content.decode()


def _count(client: Client) -> str:
    response = client.get("/nav/counts/")
    assert response.status_code == 200
    return response.content.decode().strip()


# --- the work of each role, n rows of every kind (``first``: the index to number them from, so
# a second call adds rows that clash with none of the first) ---------------------------------


def _sched(world: World) -> Sched:
    existing = AppointmentType.objects.filter(
        clinic=world.clinic, kind=AppointmentKind.CONSULTATION
    ).first()
    return setup_schedule(world) if existing is None else Sched(world, existing)


def _physician_work(world: World, n: int, first: int = 0) -> list[Patient]:
    sched = _sched(world)
    midnight = _local_midnight(world)
    patients = []
    for i in range(first, first + n):
        patient = new_patient(world)
        patients.append(patient)
        consultation_appointment(sched, patient, midnight + dt.timedelta(hours=1, minutes=60 * i))
        plan_factories.draft(world, patient)
        yesterday = infusion_appointment(
            world, patient, start=timezone.now() - dt.timedelta(days=1, minutes=i * 60)
        )
        session = charted_session(world, yesterday, given=True)
        DoseDeviation.objects.create(
            session=session,
            trigger="stop",
            opened_at=timezone.now() - dt.timedelta(days=1),
            given_mg=110.0,
            plan_total_mg=100.0,
            excess_mg=10.0,
            message="Given 110 mg of 100 mg planned.",
            policy_version=1,
            policy_values={},
        )
        BoosterSuggestion.objects.create(
            clinic=world.clinic,
            patient=patient,
            series_end=timezone.localdate() - dt.timedelta(days=40),
            relapse_date=timezone.localdate() - dt.timedelta(days=5 + i),
            baseline=8.0,
            window_means={},
            source="test",
        )
    return patients


def _front_desk_work(world: World, n: int, first: int = 0) -> list[Patient]:
    sched = _sched(world)
    midnight = _local_midnight(world)
    patients = []
    for i in range(first, first + n):
        patient = new_patient(world)
        patients.append(patient)
        today = consultation_appointment(
            sched, patient, midnight + dt.timedelta(hours=1, minutes=60 * i)
        )
        today.booked_online = True
        today.save()
        missed = consultation_appointment(
            sched, patient, timezone.now() - dt.timedelta(days=2, minutes=60 * i)
        )
        missed.status = AppointmentStatus.NO_SHOW
        missed.save()
        entry = WaitlistEntry.objects.create(
            clinic=world.clinic, patient=patient, location=world.cleveland, type=sched.consultation
        )
        start = timezone.now() + dt.timedelta(days=3, minutes=60 * i)
        WaitlistOffer.objects.create(
            entry=entry,
            provider=world.physician,
            location=world.cleveland,
            start=start,
            end=start + dt.timedelta(minutes=30),
            block_end=start + dt.timedelta(minutes=45),
            expires_at=timezone.now() + dt.timedelta(hours=5),
        )
    return patients


def _nurse_work(world: World, n: int, first: int = 0) -> list[Patient]:
    patients = []
    long_ago = timezone.now() - dt.timedelta(minutes=90)
    for i in range(first, first + n):
        patient = new_patient(world)
        patients.append(patient)
        # Infusing for 90 minutes with no vitals since the start: overdue on any interval.
        session = bare_session(
            world,
            patient,
            chair(world, "Chair 1") if i == 0 else None,
            status=SessionStatus.INFUSING,
            arrived_at=long_ago,
            started_at=long_ago,
            current_rate_mg_per_h=20.0,
            last_vitals_at=long_ago,
        )
        session.alerts.create(
            code="sbp_high",
            message="Systolic BP 185 mmHg, above 180.",
            source="test",
            raised_at=timezone.now(),
            policy_version=1,
        )
    return patients


def _admin_work(world: World, n: int, first: int = 0) -> list[str]:
    emails = []
    for i in range(first, first + n):
        email = f"new{i}@example.test"
        emails.append(email)
        StaffInvitation.objects.create(
            clinic=world.clinic,
            email=email,
            role=Role.NURSE,
            nonce=f"nonce-{i}",
            invited_by=world.clinic_admin,
            expires_at=timezone.now() + dt.timedelta(days=3),
        )
    return emails


# --- each role's lines and where they lead -----------------------------------------------------


def test_the_physicians_home_lists_what_waits_for_them_with_links(
    client_for: Any, world: World
) -> None:
    (patient,) = _physician_work(world, 1)
    consultation = factories.assessments.complete(world, world.bob_patient)
    page = _home(client_for("physician"))

    today = _section(page, "consultations")
    assert patient.full_name in today
    assert f"/staff/patients/{patient.public_id}/consultations/" in _links(today)
    decisions = _section(page, "decisions")
    assert world.bob_patient.full_name in decisions
    assert f"/staff/consultations/{consultation.public_id}/" in _links(decisions)
    plan = patient.plans.get()
    assert f"/staff/plans/{plan.public_id}/" in _links(_section(page, "plans"))
    session = patient.infusion_sessions.get()
    assert f"/infusions/sessions/{session.public_id}/" in _links(_section(page, "sessions"))
    assert f"/infusions/sessions/{session.public_id}/" in _links(_section(page, "deviations"))
    booster = BoosterSuggestion.objects.get(patient=patient)
    assert f"/staff/boosters/{booster.public_id}/" in _links(_section(page, "boosters"))
    # One consultation, one decision, one plan, one session, one deviation, one booster.
    assert _count(client_for("physician")).startswith('<span class="nav-count">6<')


# Today's booking (from 1 a.m.) must be past, or it counts as booking again after the no-show:
# an afternoon, whatever the hour of the run (it failed from midnight to 1 a.m. in New York).
@pytest.mark.usefixtures("afternoon_in_new_york")
def test_the_front_desks_home_lists_arrivals_bookings_offers_and_no_shows(
    client_for: Any, world: World
) -> None:
    (patient,) = _front_desk_work(world, 1)
    page = _home(client_for("front_desk"))
    today = patient.appointments.get(status=AppointmentStatus.BOOKED)
    missed = patient.appointments.get(status=AppointmentStatus.NO_SHOW)

    arrivals = _section(page, "arrivals")
    assert patient.full_name in arrivals
    assert "Expected" in arrivals
    assert f"/desk/appointments/{today.public_id}/" in _links(arrivals)
    assert f"/desk/appointments/{today.public_id}/" in _links(_section(page, "bookings"))
    assert f"/staff/patients/{patient.public_id}/" in _links(_section(page, "offers"))
    no_shows = _section(page, "no_shows")
    assert f"/staff/patients/{patient.public_id}/" in _links(no_shows)
    assert "Missed" in no_shows
    # Counted: the arrival still expected, the booking, the no-show; the offer waits on the
    # patient and is shown, not counted.
    assert _count(client_for("front_desk")).startswith('<span class="nav-count">3<')

    # Once the patient has arrived she stays on the list, marked, and leaves the count (and
    # the new bookings, which list what is still booked); the no-show is still to call.
    today.status = AppointmentStatus.ARRIVED
    today.save()
    assert "Arrived" in _section(_home(client_for("front_desk")), "arrivals")
    assert _count(client_for("front_desk")).startswith('<span class="nav-count">1<')
    missed.delete()
    assert _count(client_for("front_desk")) == ""


def test_a_no_show_who_has_booked_again_is_not_called_back(client_for: Any, world: World) -> None:
    (patient,) = _front_desk_work(world, 1)
    sched_type = patient.appointments.first().type  # type: ignore[union-attr]
    later = patient.appointments.get(status=AppointmentStatus.BOOKED)
    later.start = timezone.now() + dt.timedelta(days=5)
    later.end = later.start + dt.timedelta(minutes=30)
    later.block_end = later.start + dt.timedelta(minutes=45)
    later.save()
    assert sched_type is not None
    page = _home(client_for("front_desk"))
    assert "No one to call back." in _section(page, "no_shows")


def test_the_nurses_home_shows_chairs_overdue_vitals_and_open_alerts(
    client_for: Any, world: World
) -> None:
    (patient,) = _nurse_work(world, 1)
    session = patient.infusion_sessions.get()
    page = _home(client_for("nurse"))

    chairs = _section(page, f"chairs-{world.cleveland.pk}")
    assert "Chair 1" in chairs
    assert patient.full_name in chairs
    assert "Infusing" in chairs
    assert f"/infusions/sessions/{session.public_id}/" in _links(chairs)
    overdue = _section(page, "vitals")
    assert patient.full_name in overdue
    assert f"/infusions/sessions/{session.public_id}/" in _links(overdue)
    alerts = _section(page, "alerts")
    assert "Systolic BP 185 mmHg" in alerts
    assert f"/infusions/sessions/{session.public_id}/" in _links(alerts)
    # One overdue set of vitals and one open alert; the chairs are shown, not counted.
    assert _count(client_for("nurse")).startswith('<span class="nav-count">2<')


def test_the_clinic_admins_home_shows_approvals_invitations_and_job_health(
    client_for: Any, world: World
) -> None:
    (email,) = _admin_work(world, 1)
    PolicyProposal.objects.create(
        clinic=world.clinic,
        based_on_version=0,
        values={"max_session_mg": 250.0},
        old_values={"max_session_mg": 200.0},
        waiting_on=["max_session_mg"],
        proposed_by=world.clinic_admin,
        note="More patients above 100 kg.",
    )
    path = next(iter(PERIODIC_JOBS))
    # The record of job runs, which every task backend's worker writes (web/receivers.py).
    JobRun.objects.create(
        task_id="a-run",
        task_path=path,
        started_at=timezone.now() - dt.timedelta(minutes=4),
        finished_at=timezone.now() - dt.timedelta(minutes=3),
        outcome=JobOutcome.FAILED,
        error_class="builtins.RuntimeError",
        worker_host="worker-1",
        worker_pid=1,
    )
    page = _home(client_for("clinic_admin"))

    assert "/clinic/safety-proposals/" in _links(_section(page, "proposals"))
    invitations = _section(page, "invitations")
    assert email in invitations
    assert "/clinic/staff/" in _links(invitations)
    jobs = _section(page, "jobs")
    assert "Failed" in jobs
    assert "Not run yet" in jobs
    # The proposal, the invitation and the failed job.
    assert _count(client_for("clinic_admin")).startswith('<span class="nav-count">3<')


def test_an_empty_day_says_so_and_counts_nothing(client_for: Any, world: World) -> None:
    page = _home(client_for("physician"))
    assert "No consultations for you today." in page
    assert _count(client_for("physician")) == ""


# --- bounded lists and flat query counts -------------------------------------------------------


ROLES: dict[str, tuple[Callable[..., Any], str]] = {
    "physician": (_physician_work, "boosters"),
    "front_desk": (_front_desk_work, "no_shows"),
    "nurse": (_nurse_work, "alerts"),
    "clinic_admin": (_admin_work, "invitations"),
}


# The session, the user and the count's reads; the nurse's is the largest (her location's board).
COUNT_QUERIES_MAX = 12


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.usefixtures("afternoon_in_new_york")  # as the front desk's test above
@pytest.mark.parametrize("persona", list(ROLES))
def test_a_home_reads_as_many_queries_for_one_row_as_for_many(
    client_for: Any, world: World, persona: str
) -> None:
    make, section = ROLES[persona]
    client = client_for(persona)
    make(world, 1)
    _home(client)  # the first request of a session fills caches the later ones read
    _count(client)
    one, one_count = _queries(client, "/home/"), _queries(client, "/nav/counts/")
    make(world, MANY, first=1)
    many, many_count = _queries(client, "/home/"), _queries(client, "/nav/counts/")
    # The count is cheaper than the page: no lines, no audit event (measured: 7 to 12).
    assert one_count <= COUNT_QUERIES_MAX
    assert one_count < one
    assert many == one, (persona, one, many)
    assert many_count == one_count, (persona, one_count, many_count)
    # A section shows LIMIT lines and says how many more there are.
    shown = _section(_home(client), section)
    assert shown.count("<li>") == LIMIT
    assert f"and {1 + MANY - LIMIT} more" in shown


def test_the_staff_home_writes_one_read_event_and_the_count_none(
    client_for: Any, world: World
) -> None:
    _front_desk_work(world, 2)
    client = client_for("front_desk")
    before = AuditEvent.objects.count()
    _home(client)
    events = list(AuditEvent.objects.order_by("pk")[before:])
    assert [(e.action, e.object_type) for e in events] == [(Action.READ, "worklist")]
    before = AuditEvent.objects.count()
    _count(client)
    assert AuditEvent.objects.count() == before


def test_the_count_asks_anonymous_visitors_to_sign_in(client: Client, world: World) -> None:
    response = client.get("/nav/counts/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_every_page_loads_the_count_after_it_renders(client_for: Any, world: World) -> None:
    page = client_for("nurse").get("/staff/patients/").content.decode()
    assert 'hx-get="/nav/counts/" hx-trigger="load"' in page


# --- the patient's home ------------------------------------------------------------------------


def test_the_patients_home_shows_her_next_visit_what_is_due_and_her_plan(
    client_for: Any, world: World
) -> None:
    sched = setup_schedule(world)
    soon = timezone.now() + dt.timedelta(days=2)
    later = consultation_appointment(sched, world.alice_patient, soon + dt.timedelta(days=7))
    first = consultation_appointment(sched, world.alice_patient, soon)
    plan = plan_factories.signed(world, world.alice_patient)
    client = client_for("alice")
    before = AuditEvent.objects.count()
    page = _home(client)
    # Her record is read once: the page's one read event.
    assert AuditEvent.objects.count() - before == 1

    visit = re.search(r'data-testid="next-visit">(.*?)</article>', page, re.S)
    assert visit is not None
    local = first.start.astimezone(zoneinfo.ZoneInfo(world.cleveland.time_zone))
    assert local.strftime("%-I:%M %p") in visit.group(1)
    assert world.cleveland.time_zone in visit.group(1)
    assert later.start.astimezone(zoneinfo.ZoneInfo(world.cleveland.time_zone)).strftime(
        "%-d %b"
    ) not in visit.group(1)
    due = re.search(r'data-testid="due">(.*?)</article>', page, re.S)
    assert due is not None
    assert "/me/diary/record/nrs/" in _links(due.group(1))
    shown_plan = re.search(r'data-testid="plan">(.*?)</article>', page, re.S)
    assert shown_plan is not None
    assert f"Plan {plan.number}" in shown_plan.group(1)
    assert "/me/plan/" in _links(shown_plan.group(1))
    assert _count(client).startswith('<span class="nav-count">1<')

    DiaryEntry.objects.create(
        clinic=world.clinic,
        patient=world.alice_patient,
        instrument="nrs",
        entry_date=timezone.now().astimezone(patient_zone(world.alice_patient)).date(),
        score=4,
        answers={"nrs": 4},
        loinc=NRS_LOINC,
        source="portal",
    )
    assert "Nothing is due today" in _home(client)
    assert _count(client) == ""
