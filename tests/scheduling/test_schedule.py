"""The schedule pages (day and week per location) and the induction series pages."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.clinics.models import Chair
from ketaclinic.scheduling import selectors, services
from ketaclinic.scheduling.models import Appointment, InductionSeries
from tests import factories
from tests.conftest import World
from tests.factories.plans import make_plan
from tests.factories.scheduling import SeriesWorld, setup_series
from tests.scheduling.helpers import next_weekday, series_snapshot

pytestmark = pytest.mark.django_db

NY = zoneinfo.ZoneInfo("America/New_York")


@pytest.fixture
def sw(world: World) -> SeriesWorld:
    return setup_series(world)


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NY).astimezone(dt.UTC)


def _consult(
    sw: SeriesWorld, start: dt.datetime, *, patient: Any = None, provider: Any = None
) -> Appointment:
    return Appointment.objects.create(
        clinic=sw.world.clinic,
        location=sw.world.cleveland,
        provider=provider or sw.world.physician,
        patient=patient or sw.world.alice_patient,
        type=sw.world.clinic.appointment_types.get(kind="consultation"),
        start=start,
        end=start + dt.timedelta(minutes=30),
        block_end=start + dt.timedelta(minutes=45),
    )


def _schedule(
    client: Client, sw: SeriesWorld, day: dt.date, view: str = "day", **extra: str
) -> Any:
    params: dict[str, str | int] = {
        "location": sw.world.cleveland.pk,
        "date": day.isoformat(),
        "view": view,
        **extra,
    }
    return client.get(reverse("scheduling:schedule"), params)


def _columns(html: str) -> dict[str, str]:
    """Each column's label -> its HTML (the schedule renders one <section> per column)."""
    found: dict[str, str] = {}
    for chunk in html.split('<section class="sched-col')[1:]:
        label = re.search(r'aria-label="([^"]+)"', chunk)
        assert label is not None
        found[label.group(1)] = chunk.split("</section>")[0]
    return found


def _book_series(sw: SeriesWorld, plan: Any, day: dt.date, *, nurse: Any = None) -> InductionSeries:
    proposal = selectors.series_propose(plan=plan, location=sw.world.cleveland, day_from=day)
    assert proposal is not None
    return services.series_book(
        actor=Actor(user=sw.world.front_desk),
        plan=plan,
        location=sw.world.cleveland,
        sessions=[
            (s.chair_id, (nurse.pk if nurse else s.nurse_id), s.start) for s in proposal.sessions
        ],
    )


# --- the schedule -------------------------------------------------------------------------------


def test_the_day_view_shows_providers_and_chairs_as_columns_with_each_appointment(
    sw: SeriesWorld, client_for: Any
) -> None:
    day = next_weekday(0)
    _consult(sw, _at(day, 9))
    series = _book_series(sw, sw.bob_plan, day)
    session = series.sessions.order_by("start").first()
    assert session is not None
    assert session.chair is not None
    response = _schedule(client_for("front_desk"), sw, day)
    assert response.status_code == 200
    html = response.content.decode()
    columns = _columns(html)
    assert list(columns) == [
        "Dr. Paul Physician",
        "Nina Nurse",
        "Nora Second",
        "Chair 1",
        "Chair 2",
    ]
    assert "Alice Moreno" in columns["Dr. Paul Physician"]
    assert "New patient consultation" in columns["Dr. Paul Physician"]
    # The infusion is in its nurse's column and in its chair's, held through the recovery.
    assert "Bob Kowalski" in columns[session.provider.display_name]
    assert "Bob Kowalski" in columns[session.chair.name]
    assert "recovery until 9:40 AM" in columns[session.chair.name]
    other_chair = "Chair 2" if session.chair.name == "Chair 1" else "Chair 1"
    assert "Bob Kowalski" not in columns[other_chair]
    assert html.count('data-testid="sched-item"') == 3
    assert html.count(">Booked<") == 3
    # Placed on the grid by time: 8:00 starts on the first row after the header (7:00 + 12 rows).
    # (Classes, not a style attribute: the Content-Security-Policy refuses inline style.)
    assert "gr-14 ge-34" in columns[session.chair.name]


@pytest.mark.parametrize("persona", ["nurse", "physician", "clinic_admin"])
def test_every_staff_role_reads_the_schedule_and_the_read_is_audited(
    sw: SeriesWorld, client_for: Any, persona: str
) -> None:
    day = next_weekday(2)
    _consult(sw, _at(day, 10))
    before = AuditEvent.objects.count()
    response = _schedule(client_for(persona), sw, day)
    assert response.status_code == 200
    assert "Alice Moreno" in response.content.decode()
    (event,) = AuditEvent.objects.order_by("pk")[before:]
    assert (event.action, event.object_type, event.detail["results"]) == ("read", "schedule", 1)


def test_the_nurse_sees_no_desk_buttons(sw: SeriesWorld, client_for: Any) -> None:
    day = next_weekday(2)
    _consult(sw, _at(day, 10))
    html = _schedule(client_for("nurse"), sw, day).content.decode()
    assert 'value="cancel"' not in html
    assert "Book by phone" not in html
    desk = _schedule(client_for("front_desk"), sw, day).content.decode()
    assert 'value="cancel"' in desk
    assert "Book by phone" in desk


def test_the_week_view_lists_each_day_per_column(sw: SeriesWorld, client_for: Any) -> None:
    monday = next_weekday(0)
    _consult(sw, _at(monday + dt.timedelta(days=2), 9))
    _consult(sw, _at(monday + dt.timedelta(days=4), 11), patient=sw.world.bob_patient)
    # Any day of the week shows that week from Monday.
    response = _schedule(client_for("front_desk"), sw, monday + dt.timedelta(days=3), "week")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"week of {monday:%-d %B %Y}" in html
    physician = _columns(html)["Dr. Paul Physician"]
    cells = physician.split('class="sched-cell')[1:]
    assert len(cells) == 7
    assert "Alice Moreno" in cells[2]
    assert "Bob Kowalski" in cells[4]
    assert "Alice Moreno" not in cells[4]


def test_the_schedule_takes_the_same_queries_for_few_and_many_appointments(
    sw: SeriesWorld, client_for: Any, django_assert_num_queries: Any
) -> None:
    day = next_weekday(1)
    client = client_for("front_desk")
    _consult(sw, _at(day, 9))
    _book_series(sw, sw.bob_plan, day)

    def count(view: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert _schedule(client, sw, day, view).status_code == 200
        return len(ctx)

    small = {view: count(view) for view in ("day", "week")}
    # Many more providers, chairs, patients and 200 appointments the same day.
    for i in range(10):
        factories.make_user(
            sw.world.clinic, "physician", name=f"Dr. Extra {i}", locations=(sw.world.cleveland,)
        )
    for i in range(3, 11):
        Chair.objects.create(location=sw.world.cleveland, name=f"Chair {i}")
    providers = list(sw.world.clinic.users.filter(role="physician", locations=sw.world.cleveland))
    patients = [factories.make_patient(sw.world.clinic, given=f"P{i}") for i in range(20)]
    consultation = sw.world.clinic.appointment_types.get(kind="consultation")
    Appointment.objects.bulk_create(
        Appointment(
            clinic=sw.world.clinic,
            location=sw.world.cleveland,
            provider=providers[i % len(providers)],
            patient=patients[i % len(patients)],
            type=consultation,
            start=_at(day, 7) + dt.timedelta(minutes=5 * (i // len(providers))),
            end=_at(day, 7) + dt.timedelta(minutes=5 * (i // len(providers)) + 4),
            block_end=_at(day, 7) + dt.timedelta(minutes=5 * (i // len(providers)) + 5),
        )
        for i in range(200)
    )
    assert Appointment.objects.filter(start__date=day).count() >= 200
    assert count("day") == small["day"]
    assert count("week") == small["week"]
    with django_assert_num_queries(small["day"]):
        html = _schedule(client, sw, day).content.decode()
    assert html.count('data-testid="sched-item"') == 200 + 1 + 2
    assert len(_columns(html)) == 1 + 10 + 2 + 10


def test_the_desk_marks_arrival_then_completion_from_the_schedule(
    sw: SeriesWorld, client_for: Any
) -> None:
    start = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=10)
    appointment = _consult(sw, start)
    desk = client_for("front_desk")
    url = reverse(
        "scheduling:schedule_appointment_status", kwargs={"public_id": appointment.public_id}
    )
    back = f"{reverse('scheduling:schedule')}?location={sw.world.cleveland.pk}&view=day"
    response = desk.post(url, {"action": "arrived", "version": 1, "next": back})
    assert (response.status_code, response["Location"]) == (302, back)
    appointment.refresh_from_db()
    assert (appointment.status, appointment.version) == ("arrived", 2)
    response = desk.post(url, {"action": "completed", "version": 2, "next": "https://evil.test/"})
    assert response["Location"] == reverse("scheduling:schedule")
    appointment.refresh_from_db()
    assert appointment.status == "completed"
    assert (
        AuditEvent.objects.filter(
            object_type="appointment", object_id=str(appointment.public_id), action="update"
        ).count()
        == 2
    )


def test_a_refused_change_from_the_schedule_says_why_and_changes_nothing(
    sw: SeriesWorld, client_for: Any
) -> None:
    appointment = _consult(sw, _at(next_weekday(3), 9))
    desk = client_for("front_desk")
    url = reverse(
        "scheduling:schedule_appointment_status", kwargs={"public_id": appointment.public_id}
    )
    state, n_audit = series_snapshot(), AuditEvent.objects.count()
    response = desk.post(url, {"action": "no_show", "version": 1, "confirmed": 1}, follow=True)
    assert "has not started yet, so it cannot be marked no-show" in response.content.decode()
    response = desk.post(url, {"action": "arrived", "version": 9}, follow=True)
    assert "changed after you opened the page" in response.content.decode()
    # The nurse may read the schedule but not change it.
    assert client_for("nurse").post(url, {"action": "arrived", "version": 1}).status_code == 404
    assert (series_snapshot(), AuditEvent.objects.count() - n_audit) == (state, 2)  # 2 page reads


def test_the_desk_cancels_from_the_schedule_and_the_patient_is_emailed(
    sw: SeriesWorld, client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    appointment = _consult(sw, timezone.now().replace(microsecond=0) + dt.timedelta(hours=3))
    url = reverse(
        "scheduling:schedule_appointment_status", kwargs={"public_id": appointment.public_id}
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for("front_desk").post(
            url, {"action": "cancel", "version": 1, "confirmed": 1}
        )
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == "cancelled"
    assert mail.outbox[0].to == [sw.world.alice_patient.email]


def test_book_by_phone_finds_the_patient_and_links_to_the_desk_booking(
    sw: SeriesWorld, client_for: Any
) -> None:
    day = next_weekday(1)
    desk = client_for("front_desk")
    here = _schedule(desk, sw, day).request
    here_url = f"{here['PATH_INFO']}?{here['QUERY_STRING']}"
    # The search text is posted and kept in the session: the redirect carries none of it.
    response = desk.post(reverse("scheduling:schedule"), {"find": "Moreno", "next": here_url})
    assert response.status_code == 302
    assert "Moreno" not in response["Location"]
    assert response["Location"] == f"{here_url}#book-by-phone"
    html = desk.get(response["Location"]).content.decode()
    book = reverse("scheduling:desk_book", kwargs={"public_id": sw.world.alice_patient.public_id})
    # Alice is a Cleveland patient on Cleveland's schedule: one link, to her usual location.
    assert f'href="{book}" data-testid="book-usual">Book at Cleveland (usual)' in html
    assert 'data-testid="book-here"' not in html
    assert "Bob Kowalski" not in html
    assert AuditEvent.objects.filter(object_type="patient_list").count() == 1
    # Cleared: no results, and an old bookmark's ?find= finds nobody.
    desk.post(reverse("scheduling:schedule"), {"clear": "1", "next": here_url})
    html = _schedule(desk, sw, day, find="Moreno").content.decode()
    assert "sched-found" not in html
    assert AuditEvent.objects.filter(object_type="patient_list").count() == 1


def test_a_bad_date_or_location_is_named_and_today_is_shown(
    sw: SeriesWorld, client_for: Any
) -> None:
    response = _schedule(client_for("front_desk"), sw, next_weekday(1))
    assert response.status_code == 200
    client = client_for("front_desk")
    html = client.get(reverse("scheduling:schedule"), {"date": "31-02-2030"}).content.decode()
    assert "date: &#x27;31-02-2030&#x27; is not a date" in html
    today = timezone.now().astimezone(NY).date()
    assert f"{today:%A} {today.day} {today:%B %Y}" in html
    other_site = sw.world.other_physician.locations.get()
    html = client.get(reverse("scheduling:schedule"), {"location": other_site.pk}).content.decode()
    assert "location: choose one of this clinic" in html
    assert other_site.name not in html


# --- the series pages --------------------------------------------------------------------------


def _keys(html: str) -> list[str]:
    return re.findall(r'name="session" value="([0-9.]+)"', html)


def test_the_desk_books_a_series_from_the_plan_and_finds_it_on_the_schedule(
    sw: SeriesWorld, client_for: Any
) -> None:
    desk = client_for("front_desk")
    url = reverse("scheduling:plan_series", kwargs={"plan_id": sw.plan.public_id})
    day = next_weekday(0)
    page = desk.get(url, {"location": sw.world.cleveland.pk, "from": day.isoformat()})
    assert page.status_code == 200
    html = page.content.decode()
    assert "5 · Consecutive weekdays (Mon-Fri)" in html
    assert "40 min infusion + 60 min recovery" in html
    assert "Every session at the same time of day." in html
    keys = _keys(html)
    assert len(keys) == 5
    response = desk.post(
        url, {"location": sw.world.cleveland.pk, "from": day.isoformat(), "session": keys}
    )
    series = InductionSeries.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "scheduling:series_detail", kwargs={"public_id": series.public_id}
    )
    assert series.sessions.count() == 5
    first = series.sessions.order_by("start").first()
    assert first is not None
    assert first.chair is not None
    assert first.start.astimezone(NY).date() == day
    columns = _columns(_schedule(desk, sw, day).content.decode())
    assert "Alice Moreno" in columns[first.chair.name]
    # The plan's page now points at the booked series instead of proposing another.
    html = desk.get(url).content.decode()
    assert "A series is booked for this plan" in html
    assert _keys(html) == []


def test_a_series_taken_meanwhile_is_refused_with_the_next_proposal_and_nothing_saved(
    sw: SeriesWorld, client_for: Any
) -> None:
    desk = client_for("front_desk")
    url = reverse("scheduling:plan_series", kwargs={"plan_id": sw.plan.public_id})
    day = next_weekday(0)
    params = {"location": sw.world.cleveland.pk, "from": day.isoformat()}
    keys = _keys(desk.get(url, params).content.decode())
    # Another desk books Bob into the same chair at the same times, with the other nurse.
    _book_series(sw, sw.bob_plan, day, nurse=sw.nurse2)
    state, n_created = series_snapshot(), AuditEvent.objects.filter(action="create").count()
    response = desk.post(url, {**params, "session": keys})
    assert response.status_code == 409
    html = response.content.decode()
    assert "needs a chair that is already taken, so nothing was booked" in html
    assert "Here is the next feasible series." in html
    fresh = _keys(html)
    assert len(fresh) == 5
    assert fresh != keys
    assert series_snapshot() == state
    assert AuditEvent.objects.filter(action="create").count() == n_created
    # The proposal offered is bookable.
    assert desk.post(url, {**params, "session": fresh}).status_code == 302
    assert InductionSeries.objects.filter(patient=sw.world.alice_patient).count() == 1


def test_a_draft_plan_shows_why_and_a_forced_post_books_nothing(
    sw: SeriesWorld, client_for: Any
) -> None:
    draft = make_plan(sw.world, sw.world.alice_patient, status="draft")
    desk = client_for("front_desk")
    url = reverse("scheduling:plan_series", kwargs={"plan_id": draft.public_id})
    html = desk.get(url).content.decode()
    assert "Only a signed plan can be booked as a series; this plan is draft." in html
    assert _keys(html) == []
    keys = _keys(
        desk.get(
            reverse("scheduling:plan_series", kwargs={"plan_id": sw.plan.public_id})
        ).content.decode()
    )
    state = series_snapshot()
    response = desk.post(url, {"location": sw.world.cleveland.pk, "session": keys})
    assert response.status_code == 409
    assert "Only a signed plan" in response.content.decode()
    assert series_snapshot() == state


def test_a_garbled_proposal_is_refused_with_the_field_named(
    sw: SeriesWorld, client_for: Any
) -> None:
    url = reverse("scheduling:plan_series", kwargs={"plan_id": sw.plan.public_id})
    state = series_snapshot()
    response = client_for("physician").post(
        url, {"location": sw.world.cleveland.pk, "session": ["1.2.x", "abc"]}
    )
    assert response.status_code == 422
    assert "sessions: the proposal was not understood" in response.content.decode()
    assert series_snapshot() == state


def test_the_series_page_shows_sessions_and_the_desk_cancels_the_whole_series(
    sw: SeriesWorld, client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    series = _book_series(sw, sw.plan, next_weekday(0))
    url = reverse("scheduling:series_detail", kwargs={"public_id": series.public_id})
    nurse = client_for("nurse")
    html = nurse.get(url).content.decode()
    assert html.count("<tr><td><a href") == 5
    assert "Cancel the series" not in html
    assert nurse.post(url, {"version": 1}).status_code == 404
    assert InductionSeries.objects.get().status == "booked"
    desk = client_for("front_desk")
    assert "Cancel the series" in desk.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = desk.post(url, {"version": 1, "confirmed": 1}, follow=True)
    assert "The series is cancelled" in response.content.decode()
    assert InductionSeries.objects.get().status == "cancelled"
    assert set(Appointment.objects.values_list("status", flat=True)) == {"cancelled"}
    # A stale second click changes nothing and says why.
    response = desk.post(url, {"version": 1, "confirmed": 1}, follow=True)
    assert "changed after you opened the page" in response.content.decode()


def test_other_clinics_and_nurses_cannot_reach_a_plans_series_page(
    sw: SeriesWorld, client_for: Any
) -> None:
    url = reverse("scheduling:plan_series", kwargs={"plan_id": sw.plan.public_id})
    for persona in ("nurse", "alice", "other_physician"):
        assert client_for(persona).get(url).status_code == 404
        assert client_for(persona).post(url, {"session": ["1.1.1"]}).status_code == 404
    assert not InductionSeries.objects.exists()
