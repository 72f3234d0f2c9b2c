"""The desk's new bookings a page at a time (issue 17): a count, page N of M, the same
queries for 5 or 60 bookings, a page past the end that is the last page."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from ketaclinic.scheduling.selectors import BOOKINGS_PAGE_SIZE
from tests.conftest import World
from tests.factories.scheduling import consultation_appointment, setup_schedule

BOOKINGS = reverse("scheduling:desk_bookings")


def _book(world: World, n: int) -> None:
    sched = setup_schedule(world)
    start = (timezone.now() + dt.timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    for i in range(n):
        # An hour apart with the one physician: no two overlap.
        consultation_appointment(sched, world.alice_patient, start + dt.timedelta(hours=i))


def _opened(html: str) -> list[str]:
    return re.findall(r'href="/desk/appointments/([0-9a-f-]+)/"', html)


@pytest.mark.parametrize("n", [5, 60])
def test_the_bookings_cost_the_same_queries_for_5_or_60(
    world: World, client_for: Any, django_assert_num_queries: Any, n: int
) -> None:
    _book(world, n)
    client = client_for("front_desk")
    client.get(BOOKINGS)  # warm the session
    # session, user, savepoint, count, rows (patient, type, location, provider joined), chain
    # head lock, audit insert, chain head move, release
    with django_assert_num_queries(9):
        html = client.get(BOOKINGS).content.decode()
    assert f"{n} bookings" in html
    assert len(_opened(html)) == min(n, BOOKINGS_PAGE_SIZE)


def test_the_bookings_page_through_every_booking_once(world: World, client_for: Any) -> None:
    _book(world, BOOKINGS_PAGE_SIZE + 7)
    client = client_for("front_desk")
    first = client.get(BOOKINGS).content.decode()
    second = client.get(BOOKINGS, {"page": "2"}).content.decode()
    assert f"{BOOKINGS_PAGE_SIZE + 7} bookings · page 1 of 2" in first
    assert '<a href="?page=2" rel="next">Next</a>' in first
    shown = _opened(first) + _opened(second)
    assert len(shown) == len(set(shown)) == BOOKINGS_PAGE_SIZE + 7
    past = client.get(BOOKINGS, {"page": "40"})
    assert past.status_code == 200
    assert _opened(past.content.decode()) == _opened(second)
