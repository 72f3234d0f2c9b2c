"""A physician builds, doses and signs a plan on a phone and a desktop; the patient reads it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from ketaclinic.plans.models import Plan
from tests.conftest import World
from tests.factories.plans import CLEVELAND, future, signed
from tests.plugins.browser import DESKTOP, PHONE, sign_in_by_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_physician_builds_a_plan_sees_the_dose_and_curve_and_signs_it(
    live_server: Any, page: Page, world: World, viewport: ViewportSize
) -> None:
    page.set_viewport_size(viewport)
    sign_in_by_cookie(page, live_server.url, world.physician)
    page.goto(f"{live_server.url}/staff/patients/{world.alice_patient.public_id}/plans/")
    page.get_by_role("link", name="Start a plan").click()
    page.get_by_label("Goals").fill("Sleep through the night; walk to the shops.")
    page.get_by_label("Review date").fill(future().isoformat())
    page.get_by_label("Duloxetine").fill("30 mg daily for a week, then 60 mg daily")
    page.get_by_label("Mindfulness").fill("Eight-week course")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_test_id("plan-status")).to_have_text("Draft")

    page.get_by_role("link", name="Set ketamine protocol").click()
    # The dose rests on the exam (70 kg, 170 cm), shown read-only; choosing fills the fields.
    expect(page.get_by_test_id("exam-measurements")).to_contain_text("weight 70 kg")
    page.get_by_label("Protocol template").select_option(label=CLEVELAND)
    expect(page.get_by_label("Dose (mg/kg per session)")).to_have_value("0.5")
    page.get_by_label("Dose (mg/kg per session)").fill("2.5")
    page.get_by_label("Infusion duration (minutes)").fill("240")
    page.get_by_role("button", name="Calculate and save").click()
    # 2.5 mg/kg is past the clinic's 2 mg/kg per session: refused with the limit named.
    expect(page.get_by_test_id("refusal")).to_contain_text("max_session_mg_per_kg")
    page.get_by_label("Dose (mg/kg per session)").fill("0.5")
    page.get_by_label("Infusion duration (minutes)").fill("40")
    page.get_by_role("button", name="Calculate and save").click()

    expect(page.get_by_test_id("total-mg")).to_have_text("35 mg")
    # 5.25 mL/h rounded down to the pump's 0.1 mL/h step: 5.2 mL/h, which delivers 52 mg/h.
    expect(page.get_by_test_id("rate")).to_have_text("5.2 mL/h · 52 mg/h")
    expect(page.get_by_test_id("volume")).to_have_text("3.5 mL")
    chart = page.get_by_role("img", name="Predicted plasma concentration")
    expect(chart).to_be_attached()
    figure = page.locator("figure.pk-chart")
    expect(figure).to_contain_text("an estimate, not a measurement")
    box = figure.bounding_box()
    assert box is not None
    assert box["width"] <= viewport["width"]
    # Nothing on the page is wider than the screen (on a phone the chart scrolls in its box).
    overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    assert overflow is False

    page.get_by_role("button", name="Sign plan").click()
    expect(page.get_by_test_id("plan-status")).to_have_text("Signed")
    assert Plan.objects.get().status == "signed"

    page.get_by_role("link", name="Patient summary (print)").click()
    expect(page.get_by_test_id("honesty")).to_contain_text("not a promise of relief")
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()


def test_the_patient_reads_the_signed_plan_on_a_phone(
    live_server: Any, page: Page, world: World
) -> None:
    signed(world)
    page.set_viewport_size(PHONE)
    sign_in_by_cookie(page, live_server.url, world.alice)
    page.goto(f"{live_server.url}/me/plan/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your care plan")
    expect(page.get_by_test_id("protocol-plain")).to_contain_text("5 infusion sessions")
    expect(page.get_by_role("button", name="Print")).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    assert overflow is False
