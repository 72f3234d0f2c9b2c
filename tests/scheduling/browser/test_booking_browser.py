"""A patient books a consultation from the booking page on a phone and on a desktop."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from playwright.sync_api import Page, ViewportSize, expect

from ketaclinic.scheduling.models import Appointment
from tests import factories
from tests.conftest import World
from tests.factories.scheduling import setup_schedule
from tests.plugins.browser import DESKTOP, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_patient_books_a_consultation_with_the_keyboard(
    live_server: Any, page: Page, world: World, viewport: ViewportSize
) -> None:
    setup_schedule(world)
    page.set_viewport_size(viewport)
    page.goto(f"{live_server.url}/book/")
    page.get_by_role("link", name="See times at Cleveland").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a time at Cleveland")
    first = page.get_by_role("radio").first
    first.focus()
    page.keyboard.press("Space")
    expect(first).to_be_checked()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Almost done")
    page.get_by_role("link", name="Sign in").last.click()
    page.get_by_label("Email").fill("alice@example.test")
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your booking")
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My appointments")
    expect(page.get_by_test_id("appointment")).to_have_count(1)
    assert Appointment.objects.get().patient == world.alice_patient
    assert any(m.to == [world.alice_patient.email] for m in mail.outbox)
    overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    assert overflow is False
