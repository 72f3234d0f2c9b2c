"""Automatic log-off on the server (accounts/session_timeout.py): an idle time-out by role, an
absolute limit from sign-in, "Stay signed in", the remaining-time check, and what a request past
the limit gets (signed out, one TIMEOUT event, the sign-in page with a message, nothing done)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from ketaclinic.audit.models import Action, AuditEvent
from ketaclinic.patients.models import Patient
from tests.conftest import World
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 10, 14, 0, tzinfo=dt.UTC)
HOME = "/home/"
STATUS = "/accounts/session/"
STAY = "/accounts/session/stay/"


@pytest.fixture
def clock() -> Iterator[Any]:
    """A stopped clock the test moves on by hand (``clock.shift(timedelta)``)."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def signed_in(client: Client) -> bool:
    return bool(client.get(STATUS).json()["signed_in"])


def timeouts() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=Action.TIMEOUT).order_by("id"))


def writes() -> list[tuple[str, str, str]]:
    """Every event but the reads: what a refused request must leave unchanged."""
    return [
        (e.action, e.object_type, e.object_id)
        for e in AuditEvent.objects.exclude(action=Action.READ).order_by("id")
    ]


# --- the idle time-out -----------------------------------------------------------------------


def test_a_request_after_15_idle_minutes_signs_the_nurse_out_with_one_event(
    clock: Any, client_for: Any, world: World
) -> None:
    nurse = client_for("nurse")
    assert nurse.get(HOME).status_code == 200
    clock.shift(dt.timedelta(minutes=15, seconds=1))

    page = f"/staff/patients/{world.alice_patient.public_id}/"
    response = nurse.get(page, REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=" + page.replace("/", "%2F")
    [event] = timeouts()
    assert event.actor == world.nurse
    assert event.actor_role == "nurse"
    assert event.ip_address == "198.51.100.7"
    assert event.object_type == "user"
    assert event.object_id == str(world.nurse.pk)
    assert event.detail == {"limit": "idle", "limit_seconds": 900}
    assert not signed_in(nurse)
    # The page was not shown: the time-out left no read of Alice's record.
    assert not AuditEvent.objects.filter(action=Action.READ, patient=world.alice_patient).exists()


def test_the_sign_in_page_says_why_and_the_next_requests_add_no_event(
    clock: Any, client_for: Any
) -> None:
    nurse = client_for("nurse")
    nurse.get(HOME)
    clock.shift(dt.timedelta(minutes=16))

    response = nurse.get(HOME, follow=True)

    assert response.redirect_chain[0] == ("/accounts/login/?next=%2Fhome%2F", 302)
    assert (
        "You were signed out after 15 minutes without activity, to keep patients&#x27; "
        "information private. Sign in again to carry on."
    ) in response.content.decode()
    nurse.get(HOME)
    nurse.get(STATUS)
    assert len(timeouts()) == 1


def test_activity_inside_the_limit_keeps_the_session(clock: Any, client_for: Any) -> None:
    nurse = client_for("nurse")
    for _ in range(6):  # 84 minutes, never 15 in a row without a request
        clock.shift(dt.timedelta(minutes=14))
        assert nurse.get(HOME).status_code == 200
    assert signed_in(nurse)
    assert timeouts() == []


def test_staff_and_patients_have_their_own_limits(
    clock: Any, client_for: Any, world: World
) -> None:
    staff = {name: client_for(name) for name in ("front_desk", "physician", "clinic_admin")}
    alice = client_for("alice")
    clock.shift(dt.timedelta(minutes=15, seconds=1))
    for client in staff.values():
        assert client.get(HOME).status_code == 302
    assert alice.get(HOME).status_code == 200  # 30 minutes for patients
    clock.shift(dt.timedelta(minutes=30, seconds=1))
    assert alice.get(HOME).status_code == 302

    assert [(e.actor_id, e.detail["limit_seconds"]) for e in timeouts()] == [
        (world.front_desk.pk, 900),
        (world.physician.pk, 900),
        (world.clinic_admin.pk, 900),
        (world.alice.pk, 1800),
    ]


def test_the_limits_are_settings(clock: Any, client_for: Any, settings: Any) -> None:
    settings.SESSION_IDLE_TIMEOUT_STAFF_SECONDS = 5 * 60
    nurse = client_for("nurse")
    clock.shift(dt.timedelta(minutes=5, seconds=1))
    assert nurse.get(HOME).status_code == 302
    assert timeouts()[0].detail == {"limit": "idle", "limit_seconds": 300}


# --- the absolute limit ----------------------------------------------------------------------


def test_the_absolute_limit_ends_a_busy_session_12_hours_after_sign_in(
    clock: Any, client_for: Any
) -> None:
    physician = client_for("physician")
    for _ in range(12 * 6 - 1):  # a request every 10 minutes until 11 h 50
        clock.shift(dt.timedelta(minutes=10))
        assert physician.get(HOME).status_code == 200
    clock.shift(dt.timedelta(minutes=10))

    response = physician.get(HOME, follow=True)

    assert response.redirect_chain[0][0] == "/accounts/login/?next=%2Fhome%2F"
    assert (
        "You were signed out because sessions end 12 hours after signing in."
        in response.content.decode()
    )
    [event] = timeouts()
    assert event.detail == {"limit": "absolute", "limit_seconds": 12 * 3600}


def test_the_absolute_limit_counts_from_a_real_sign_in(clock: Any, world: World) -> None:
    # Alice (a patient: no second factor) through allauth's own sign-in form.
    client = Client()
    response = client.post(
        "/accounts/login/", {"login": "alice@example.test", "password": PASSWORD}
    )
    assert response.status_code == 302
    for _ in range(35):  # busy: a page every 20 minutes, to 11 h 40 after signing in
        clock.shift(dt.timedelta(minutes=20))
        assert client.get(HOME).status_code == 200
    status = client.get(STATUS).json()
    assert status == {
        "signed_in": True,
        "remaining_seconds": 20 * 60,
        "limit": "absolute",
        "warning_seconds": 60,
    }


# --- "Stay signed in" and the remaining-time check --------------------------------------------


def test_staying_signed_in_extends_the_idle_limit(clock: Any, client_for: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.cookies = client_for("nurse").cookies
    client.get(HOME)  # the page that carries the token
    token = client.cookies["csrftoken"].value
    clock.shift(dt.timedelta(minutes=14, seconds=10))
    assert client.get(STATUS).json()["remaining_seconds"] == 50

    response = client.post(STAY, HTTP_X_CSRFTOKEN=token)

    assert response.status_code == 200
    assert response.json() == {
        "signed_in": True,
        "remaining_seconds": 15 * 60,
        "limit": "idle",
        "warning_seconds": 60,
    }
    clock.shift(dt.timedelta(minutes=14))
    assert client.get(HOME).status_code == 200
    assert timeouts() == []


def test_staying_signed_in_needs_the_csrf_token(clock: Any, client_for: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.cookies = client_for("nurse").cookies
    clock.shift(dt.timedelta(minutes=10))

    assert client.post(STAY).status_code == 403

    assert client.get(STATUS).json()["remaining_seconds"] == 5 * 60


def test_staying_signed_in_never_passes_the_absolute_limit(clock: Any, client_for: Any) -> None:
    client = client_for("alice")
    busy = dt.timedelta(minutes=29, seconds=59)  # a page just inside each 30 idle minutes
    for _ in range(23):
        clock.shift(busy)
        assert client.get(HOME).status_code == 200
    clock.shift(dt.timedelta(minutes=29))

    response = client.post(STAY)

    # What is left of the 12 hours, far less than the 30 idle minutes staying would give.
    left = 12 * 3600 - (23 * busy + dt.timedelta(minutes=29)).total_seconds()
    assert left == 83
    assert response.json()["remaining_seconds"] == left
    assert response.json()["limit"] == "absolute"
    clock.shift(dt.timedelta(seconds=83))
    assert client.post(STAY).status_code == 401
    assert [e.detail["limit"] for e in timeouts()] == ["absolute"]


def test_the_remaining_time_check_is_not_activity(clock: Any, client_for: Any) -> None:
    nurse = client_for("nurse")
    for minute in (5, 10, 14):
        clock.move_to(START + dt.timedelta(minutes=minute))
        assert nurse.get(STATUS).json()["remaining_seconds"] == (15 - minute) * 60
    clock.move_to(START + dt.timedelta(minutes=15))

    response = nurse.get(STATUS)

    assert response.status_code == 401
    assert response.json() == {"signed_in": False, "limit": "idle", "login_url": "/accounts/login/"}
    assert len(timeouts()) == 1
    # The JSON answer still leaves the message for the sign-in page the script opens next.
    assert "without activity" in nurse.get("/accounts/login/").content.decode()


def test_a_visitor_asking_the_time_left_is_told_they_are_signed_out(client: Client) -> None:
    assert client.get(STATUS).json() == {"signed_in": False, "login_url": "/accounts/login/"}
    assert client.post(STAY).status_code == 401


def test_the_chair_board_refreshing_itself_is_not_activity(
    clock: Any, client_for: Any, world: World
) -> None:
    nurse = client_for("nurse")
    live = reverse("infusions:board_live", kwargs={"location_id": world.cleveland.pk})
    for _ in range(59):  # every 15 s, as the page polls
        clock.shift(dt.timedelta(seconds=15))
        assert nurse.get(live, HTTP_HX_REQUEST="true").status_code == 200
    clock.shift(dt.timedelta(seconds=16))

    response = nurse.get(
        live,
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver/infusions/board/{world.cleveland.pk}/?x=1",
    )

    # htmx is told to load the sign-in page in the window, coming back to the board.
    assert response["HX-Redirect"] == (
        f"/accounts/login/?next=%2Finfusions%2Fboard%2F{world.cleveland.pk}%2F"
    )
    assert len(timeouts()) == 1


def test_an_api_request_after_the_time_out_carries_on_signed_out(
    clock: Any, client_for: Any, world: World
) -> None:
    alice = client_for("alice")
    clock.shift(dt.timedelta(minutes=31))

    response = alice.post(
        "/api/v1/instruments/nrs/score",
        data=json.dumps({"answers": {"pain": 6}}),
        content_type="application/json",
    )

    assert response.status_code == 200  # the public scoring needs no session
    assert [e.actor_id for e in timeouts()] == [world.alice.pk]
    assert not signed_in(alice)


# --- a POST after the time-out ---------------------------------------------------------------


def _snapshot(patient: Patient) -> dict[str, Any]:
    return dict(Patient.objects.filter(pk=patient.pk).values().get())


def test_a_post_after_the_time_out_changes_nothing(
    clock: Any, client_for: Any, world: World
) -> None:
    patient = world.alice_patient
    page = f"/staff/patients/{patient.public_id}/edit/"
    physician = client_for("physician")
    assert physician.get(page).status_code == 200
    clock.shift(dt.timedelta(minutes=20))
    before, writes_before = _snapshot(patient), writes()

    response = physician.post(
        page,
        {
            "given_name": "Alice",
            "family_name": "Changed-After-Timeout",
            "date_of_birth": "1970-01-01",
            "sex": "female",
            "version": patient.version,
        },
        HTTP_REFERER=f"http://testserver{page}",
    )

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={page.replace('/', '%2F')}"
    assert _snapshot(patient) == before
    assert writes() == [*writes_before, (Action.TIMEOUT, "user", str(world.physician.pk))]


def test_a_post_from_another_site_is_not_sent_back_there(clock: Any, client_for: Any) -> None:
    physician = client_for("physician")
    clock.shift(dt.timedelta(minutes=20))

    response = physician.post(HOME, {}, HTTP_REFERER="https://evil.example/phish/")

    assert response["Location"] == "/accounts/login/"


# --- the page ---------------------------------------------------------------------------------


def test_every_signed_in_page_carries_the_warning_and_its_settings(
    clock: Any, client_for: Any
) -> None:
    html = client_for("nurse").get(HOME).content.decode()
    assert 'role="alertdialog"' in html
    assert 'data-remaining="900"' in html
    assert 'data-warning="60"' in html
    assert 'data-stay-url="/accounts/session/stay/"' in html
    assert "/static/ketaclinic/session-timeout.js" in html
    # Configured by attributes only: no script of the page's own (the CSP allows none).
    assert "<script>" not in html


def test_visitors_get_no_warning(client: Client) -> None:
    html = client.get("/").content.decode()
    assert "session-timeout" not in html
