"""The demo's infusion day (``infusions.demo.seed_infusion_day``)."""

from __future__ import annotations

import pytest

from ketaclinic.accounts.models import User
from ketaclinic.audit.services import Actor
from ketaclinic.infusions.demo import seed_infusion_day
from ketaclinic.infusions.selectors import board_for_location
from ketaclinic.scheduling.models import Appointment
from ketaclinic.web.demo import DEMO_DOMAIN, load_demo

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
