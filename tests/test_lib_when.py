"""Moments in a location's zone, the zone named (lib/when.py), and the consultation's appointment
picker that showed UTC."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from ketaclinic.lib.when import local_text, zone_of
from ketaclinic.scheduling.models import Appointment
from tests.conftest import World
from tests.factories.scheduling import consultation_appointment, setup_schedule

# 20:50 UTC on a winter day: 3:50 PM in Cleveland, 2:50 PM in Chicago.
WINTER = dt.datetime(2026, 12, 2, 20, 50, tzinfo=dt.UTC)
SUMMER = dt.datetime(2026, 7, 1, 20, 50, tzinfo=dt.UTC)


def test_a_moment_is_shown_in_the_locations_zone_with_the_zone_named() -> None:
    assert local_text(WINTER, "America/New_York") == "Wed 2 Dec 2026, 3:50 PM EST"
    assert local_text(SUMMER, "America/New_York") == "Wed 1 Jul 2026, 4:50 PM EDT"
    assert local_text(WINTER, "America/Chicago", "g:i A") == "2:50 PM CST"
    assert local_text(WINTER, "America/Chicago", "g:i A", zone=False) == "2:50 PM"
    # A zone tzdata writes without letters is named by its offset.
    assert local_text(WINTER, "America/Sao_Paulo", "g:i A") == "5:50 PM UTC-03"


def test_the_template_filter_ignores_the_projects_own_zone(world: World) -> None:
    world.cleveland.time_zone = "America/Chicago"
    template = Template(
        '{% load when %}{{ t|at_location:loc }} | {% local_time t loc "g:i A" zone=False %}'
    )
    html = template.render(Context({"t": WINTER, "loc": world.cleveland}))
    # Django's date filter would have shown New York's 3:50 PM (TIME_ZONE).
    assert html == "Wed 2 Dec 2026, 2:50 PM CST | 2:50 PM"


def test_the_consultation_picker_shows_the_visits_local_time_not_utc(
    world: World, client_for: Any
) -> None:
    sched = setup_schedule(world)
    soon = timezone.now().replace(second=0, microsecond=0) + dt.timedelta(days=2)
    earlier = soon - dt.timedelta(days=30)
    later = soon + dt.timedelta(days=7)
    made = [
        consultation_appointment(sched, world.alice_patient, start)
        for start in (earlier, later, soon)
    ]
    Appointment.objects.filter(pk=made[0].pk).update(status="completed")
    url = reverse("assessments:consultation_new", args=[world.alice_patient.public_id])
    html = client_for("physician").get(url).content.decode()
    labels = [local_text(a.start, a.location) for a in (made[2], made[1], made[0])]
    # Coming up soonest first, then the past; each in Cleveland's time with its zone.
    positions = [html.index(label) for label in labels]
    assert positions == sorted(positions)
    assert f"{soon:%Y-%m-%d %H:%M}" not in html


def test_the_schedule_shows_a_location_in_another_zone_in_its_own_time(
    world: World, client_for: Any
) -> None:
    sched = setup_schedule(world)
    world.cleveland.time_zone = "America/Chicago"
    world.cleveland.save()
    start = timezone.now().replace(hour=20, minute=50, second=0, microsecond=0) + dt.timedelta(
        days=3
    )
    a = consultation_appointment(sched, world.alice_patient, start)
    day = a.start.astimezone(zone_of(world.cleveland)).date()
    url = reverse("scheduling:schedule")
    html = client_for("front_desk").get(
        url, {"location": world.cleveland.pk, "date": day.isoformat(), "view": "day"}
    )
    page = html.content.decode()
    chicago = local_text(a.start, world.cleveland, "g:i A", zone=False)
    new_york = local_text(a.start, "America/New_York", "g:i A", zone=False)
    assert chicago != new_york
    assert f"{chicago}\u2013" in page
    assert f"{new_york}\u2013" not in page
    assert "America/Chicago" in page
