"""In a real browser, on a desktop and on a phone: the desk books a series from a plan, finds it
on the schedule, and marks a patient's arrival from the schedule."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, ViewportSize, expect

from ketaclinic.scheduling.models import Appointment, InductionSeries
from tests.conftest import World
from tests.factories.scheduling import setup_series
from tests.plugins.browser import DESKTOP, PHONE, no_sideways_scroll, sign_in
from tests.scheduling.helpers import next_weekday

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# An appointment five minutes ago must be today's: an afternoon, whatever the hour of the run.
@pytest.mark.usefixtures("afternoon_in_new_york")
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_desk_books_a_series_and_marks_an_arrival_on_the_schedule(
    live_server: Any, page: Page, world: World, viewport: ViewportSize
) -> None:
    sw = setup_series(world)
    consultation = world.clinic.appointment_types.get(kind="consultation")
    start = timezone.now().replace(second=0, microsecond=0) - dt.timedelta(minutes=5)
    Appointment.objects.create(
        clinic=world.clinic,
        location=world.cleveland,
        provider=world.physician,
        patient=world.alice_patient,
        type=consultation,
        start=start,
        end=start + dt.timedelta(minutes=30),
        block_end=start + dt.timedelta(minutes=45),
    )
    page.set_viewport_size(viewport)
    sign_in(page, live_server.url, "desk@example.test")

    monday = next_weekday(0)
    plan_url = reverse("scheduling:plan_series", kwargs={"plan_id": sw.bob_plan.public_id})
    # Bob's home is Charlotte, where no nurse works: the desk switches the search to Cleveland.
    page.goto(f"{live_server.url}{plan_url}?from={monday.isoformat()}")
    expect(page.get_by_role("main")).to_contain_text("No feasible series starts at Charlotte")
    page.get_by_label("Location").select_option(label="Cleveland")
    page.get_by_role("button", name="Find a series").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Induction series for Bob Kowalski")
    expect(page.get_by_test_id("series-proposal").locator("tbody tr")).to_have_count(5)
    no_sideways_scroll(page)
    page.get_by_role("button", name="Book this series").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Induction series: Bob Kowalski")
    expect(page.get_by_test_id("series-status")).to_have_text("Booked")
    assert InductionSeries.objects.get().sessions.count() == 5

    page.get_by_role("link", name="On the schedule").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Cleveland: week of")
    chair = page.get_by_role("region", name="Chair 1")
    expect(chair.get_by_test_id("sched-item")).to_have_count(5)
    expect(chair.get_by_test_id("sched-item").first).to_contain_text("Bob Kowalski")
    no_sideways_scroll(page)

    # Today's row of the week links to its day view.
    page.get_by_role("link", name="Today").click()
    page.get_by_role("link", name=f"{timezone.localdate():%a %d %b}", exact=True).locator(
        "visible=true"
    ).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{timezone.localdate():%A}")
    physician = page.get_by_role("region", name="Dr. Paul Physician")
    item = physician.get_by_test_id("sched-item")
    expect(item).to_contain_text("Alice Moreno")
    expect(item).to_contain_text("Booked")
    no_sideways_scroll(page)
    item.locator("summary").click()
    item.get_by_role("button", name="Arrived").click()
    expect(page.get_by_role("status")).to_contain_text("Alice Moreno: marked arrived.")
    expect(
        page.get_by_role("region", name="Dr. Paul Physician").get_by_test_id("sched-item")
    ).to_contain_text("Arrived")
    assert Appointment.objects.get(patient=world.alice_patient).status == "arrived"
