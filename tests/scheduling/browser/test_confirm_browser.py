"""In a real browser, by keyboard alone: Cancel on the schedule, "Cancel the series" and
"Deactivate" a chair each stop at a confirm page that says what will happen; "Go back" changes
nothing, the confirm button does it (lib/confirm.py)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import Locator, Page, expect

from ketaclinic.clinics.models import Chair
from ketaclinic.scheduling.models import Appointment, InductionSeries
from tests.conftest import World
from tests.factories.scheduling import setup_series
from tests.plugins.browser import sign_in_by_cookie
from tests.scheduling.helpers import book_first_series, next_weekday

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NY = zoneinfo.ZoneInfo("America/New_York")


def _press(target: Locator) -> None:
    """Reach a control with the keyboard and press Enter on it."""
    target.focus()
    expect(target).to_be_focused()
    target.press("Enter")


def test_each_destructive_action_asks_first_and_goes_back_untouched(
    live_server: Any, page: Page, world: World
) -> None:
    sw = setup_series(world)
    series = book_first_series(sw)
    day = next_weekday(2, weeks=2)
    start = dt.datetime.combine(day, dt.time(10), tzinfo=NY)
    consult = Appointment.objects.create(
        clinic=world.clinic,
        location=world.cleveland,
        provider=world.physician,
        patient=world.bob_patient,
        type=world.clinic.appointment_types.get(kind="consultation"),
        start=start,
        end=start + dt.timedelta(minutes=30),
        block_end=start + dt.timedelta(minutes=45),
    )
    base = live_server.url
    sign_in_by_cookie(page, base, world.front_desk)

    # Cancel on the schedule: the confirm page names the patient, the visit and the email.
    page.goto(
        f"{base}{reverse('scheduling:schedule')}?location={world.cleveland.pk}"
        f"&date={day.isoformat()}&view=day"
    )
    item = page.get_by_role("region", name="Dr. Paul Physician").get_by_test_id("sched-item")
    _press(item.locator("summary"))
    _press(item.get_by_role("button", name="Cancel"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Cancel this appointment?")
    expect(page.get_by_test_id("confirm-consequence")).to_contain_text(
        "This cancels Bob Kowalski's New patient consultation on"
    )
    expect(page.get_by_test_id("confirm-consequence")).to_contain_text("10:00 AM E")
    expect(page.get_by_test_id("confirm-consequence")).to_contain_text("Bob Kowalski is emailed")
    _press(page.get_by_role("link", name="Go back"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Cleveland:")
    assert Appointment.objects.get(pk=consult.pk).status == "booked"
    item = page.get_by_role("region", name="Dr. Paul Physician").get_by_test_id("sched-item")
    _press(item.locator("summary"))
    _press(item.get_by_role("button", name="Cancel"))
    _press(page.get_by_role("button", name="Cancel the appointment"))
    expect(page.get_by_role("status")).to_contain_text("Cancelled Bob Kowalski's")
    assert Appointment.objects.get(pk=consult.pk).status == "cancelled"

    # Cancel the series: five sessions listed, the patient emailed.
    page.goto(f"{base}{reverse('scheduling:series_detail', args=[series.public_id])}")
    _press(page.get_by_role("button", name="Cancel the series"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Cancel the whole series?")
    expect(page.get_by_test_id("confirm-consequence")).to_contain_text(
        "This cancels 5 sessions of Alice Moreno's induction series at Cleveland"
    )
    expect(page.get_by_test_id("confirm-step").get_by_role("listitem")).to_have_count(5)
    assert InductionSeries.objects.get(pk=series.pk).status == "booked"
    _press(page.get_by_role("button", name="Cancel the series"))
    expect(page.get_by_test_id("series-status")).to_have_text("Cancelled")

    # Deactivate a chair (the clinic admin): going back keeps it, confirming deactivates it.
    chair = Chair.objects.get(location=world.cleveland, name="Chair 1")
    sign_in_by_cookie(page, base, world.clinic_admin)
    page.goto(f"{base}{reverse('clinics:location_edit', args=[world.cleveland.pk])}")
    _press(page.get_by_role("button", name="Deactivate Chair 1"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Deactivate Chair 1?")
    expect(page.get_by_test_id("confirm-consequence")).to_contain_text(
        "New bookings and series at Cleveland will no longer use Chair 1"
    )
    _press(page.get_by_role("link", name="Go back"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Cleveland")
    assert Chair.objects.get(pk=chair.pk).is_active
    _press(page.get_by_role("button", name="Deactivate Chair 1"))
    _press(page.get_by_role("button", name="Deactivate Chair 1"))
    expect(page.get_by_role("status")).to_contain_text("Chair 1 deactivated")
    assert not Chair.objects.get(pk=chair.pk).is_active
