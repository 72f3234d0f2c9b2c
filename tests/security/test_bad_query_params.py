"""Breaker probes (issue 15 item 10): numbers and dates typed into a page's address, not a form.

The bad-number walk sends the forms the pages draw; these are the query parameters the pages
read themselves. A date at either end of the calendar (9999-12-31, 0001-01-01) overflowed the
week's arithmetic of the schedule and of every slot page (the public booking page included), and
a 400-digit audit page number reached the database as an OFFSET: each was a server error. Now
the schedule says the date is too far and shows today, the slot pages stop at the longest booking
horizon, and the audit list answers "no such page".
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from ketaclinic.clinics.models import Location
from tests.conftest import World
from tests.factories.scheduling import setup_schedule

pytestmark = pytest.mark.django_db

EDGES = ("9999-12-31", "9999-12-27", "0001-01-01")


def _client(make: Any, persona: str) -> Client:
    client: Client = make(persona)
    client.raise_request_exception = False
    return client


@pytest.mark.parametrize("day", EDGES)
def test_a_date_at_the_end_of_the_calendar_shows_a_page_not_an_error(
    world: World, client_for: Any, day: str
) -> None:
    setup_schedule(world)
    location = Location.objects.filter(clinic=world.clinic).order_by("pk").first()
    assert location is not None
    desk = _client(client_for, "front_desk")
    schedule = reverse("scheduling:schedule")
    for view in ("day", "week"):
        response = desk.get(schedule, {"date": day, "view": view})
        assert response.status_code == 200, view
        assert "is too far from today; showing today." in response.content.decode()
    booking = reverse("scheduling:book_slots", kwargs={"location_id": location.pk})
    assert Client(raise_request_exception=False).get(booking, {"from": day}).status_code == 200
    desk_book = reverse("scheduling:desk_book", kwargs={"public_id": world.alice_patient.public_id})
    assert desk.get(desk_book, {"from": day}).status_code == 200


def test_a_schedule_date_within_a_century_is_still_shown(world: World, client_for: Any) -> None:
    desk = _client(client_for, "front_desk")
    response = desk.get(reverse("scheduling:schedule"), {"date": "2031-03-05"})
    assert response.status_code == 200
    assert "too far from today" not in response.content.decode()
    assert response.context["day"].isoformat() == "2031-03-05"


@pytest.mark.parametrize(
    "position", ["9" * 400, "9223372036854775807", str(10**12 + 1), "-1", "x.y", "oldest" * 50]
)
def test_an_audit_page_position_that_does_not_read_shows_the_newest_page(
    client_for: Any, position: str
) -> None:
    # The audit page seeks by an opaque cursor (audit/cursor.py); an edited or absurd one is
    # answered with the newest events and a word why, never an error or a database overflow.
    admin = _client(client_for, "clinic_admin")
    response = admin.get(reverse("audit:events"), {"at": position})
    assert response.status_code == 200
    assert "That page link could not be read" in response.content.decode()
