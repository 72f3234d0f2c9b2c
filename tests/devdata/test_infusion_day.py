"""The demo's infusion day (``devdata.infusion_day.seed_infusion_day``)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from ketaclinic.accounts.models import User
from ketaclinic.audit.services import Actor
from ketaclinic.devdata.demo import DEMO_DOMAIN, load_demo
from ketaclinic.devdata.infusion_day import seed_infusion_day
from ketaclinic.infusions.selectors import board_for_location
from ketaclinic.scheduling.models import Appointment

pytestmark = pytest.mark.django_db


def test_the_demo_has_patients_expected_on_todays_boards() -> None:
    clinic = load_demo()  # seeds today's infusion day itself
    created = list(
        Appointment.objects.filter(clinic=clinic, type__kind="infusion").select_related(
            "location", "chair"
        )
    )
    assert {a.location.name for a in created} == {"Cleveland", "Charlotte"}
    assert all(a.chair is not None for a in created)
    assert seed_infusion_day(clinic=clinic) == []
    nurse = User.objects.get(email=f"nurse@{DEMO_DOMAIN}")
    cleveland = next(a.location for a in created if a.location.name == "Cleveland")
    board = board_for_location(actor=Actor(user=nurse), location_id=cleveland.pk)
    states = [item.state for row in board.rows for item in row.items]
    assert states == ["expected"]
    assert Appointment.objects.filter(type__kind="infusion").count() == 2


def test_a_second_run_just_after_local_midnight_books_nothing_more() -> None:
    # Both runs fall in the day's first five-minute slot, a few seconds apart: the day the second
    # run looks at must start at midnight, not at midnight plus the seconds of its own clock.
    clinic = load_demo()
    new_york = zoneinfo.ZoneInfo("America/New_York")
    tomorrow = timezone.localdate() + dt.timedelta(days=2)
    first = dt.datetime.combine(tomorrow, dt.time(0, 16, 10), tzinfo=new_york)
    assert len(seed_infusion_day(clinic=clinic, now=first)) == 2
    assert seed_infusion_day(clinic=clinic, now=first + dt.timedelta(seconds=20)) == []
