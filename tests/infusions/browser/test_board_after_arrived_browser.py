"""In a real browser: "Arrived" on the desk's schedule keeps an infusion patient on the chair
board, waiting for a chair, and the nurse checks her in from there (issue 16 item 2)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from ketaclinic.infusions.models import InfusionSession
from tests.conftest import World
from tests.factories.plans import make_plan as signed_plan
from tests.factories.scheduling import infusion_appointment
from tests.plugins.browser import sign_in_by_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_board_shows_a_patient_the_desk_marked_arrived_until_the_nurse_checks_her_in(
    live_server: Any, page: Page, world: World
) -> None:
    signed_plan(world, world.alice_patient)
    infusion_appointment(world, world.alice_patient)
    base = live_server.url
    sign_in_by_cookie(page, base, world.front_desk)
    page.goto(f"{base}/desk/schedule/?location={world.cleveland.pk}")
    item = page.get_by_test_id("sched-item").filter(has_text="Alice Moreno")
    item.locator("summary").click()
    item.get_by_role("button", name="Arrived").click()
    expect(page.locator(".messages")).to_contain_text("Alice Moreno: marked arrived.")

    page.goto(f"{base}/infusions/board/{world.cleveland.pk}/")
    waiting = page.get_by_test_id("board-item").filter(has_text="Alice Moreno")
    expect(waiting.get_by_test_id("state")).to_have_text("Arrived — waiting for a chair")

    sign_in_by_cookie(page, base, world.nurse)
    page.reload()
    waiting.get_by_label("Chair").select_option(label="Chair 2")
    waiting.get_by_role("button", name="Check in").click()
    expect(page.locator(".messages")).to_contain_text("Alice Moreno has arrived.")
    assert InfusionSession.objects.get().chair is not None
    page.goto(f"{base}/infusions/board/{world.cleveland.pk}/")
    in_chair = page.locator('[data-chair="Chair 2"]').get_by_test_id("board-item")
    expect(in_chair.get_by_test_id("state")).to_have_text("Arrived")
