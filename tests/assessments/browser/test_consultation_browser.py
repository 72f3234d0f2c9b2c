"""A physician runs a consultation on a phone and on a desktop: history, exam with the DN4,
grade, a "review" decision with its reasons, and an override with a written reason."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from ketaclinic.assessments.models import Consultation
from tests.conftest import World
from tests.plugins.browser import DESKTOP, PHONE, no_sideways_scroll, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_physician_runs_a_consultation_and_overrides_the_decision(
    live_server: Any, page: Page, world: World, viewport: ViewportSize
) -> None:
    page.set_viewport_size(viewport)
    sign_in(page, live_server.url, "doc@example.test")

    patient = world.alice_patient
    page.goto(f"{live_server.url}/staff/patients/{patient.public_id}/consultations/new/")
    page.get_by_role("button", name="Start the consultation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("History")
    no_sideways_scroll(page)
    page.get_by_label("Pain duration (months)").fill("24")
    page.get_by_label("Pain now (0-10)").fill("7")
    page.get_by_label("Left leg or foot").check()
    page.get_by_label("Burning").check()
    page.get_by_label("Causes and diagnoses").select_option(["snomed|230572002", "icd10cm|E11.42"])
    page.get_by_label("Gabapentin").select_option("failed")
    page.get_by_role("button", name="Save the history").click()

    page.get_by_role("link", name="Edit exam and DN4").click()
    expect(page.get_by_label("Systolic BP (mmHg)")).to_be_visible()
    no_sideways_scroll(page)
    page.get_by_label("Systolic BP (mmHg)").fill("132")
    page.get_by_label("Diastolic BP (mmHg)").fill("84")
    page.get_by_label("Heart rate (/min)").fill("70")
    page.get_by_label("SpO2 (%)").fill("101")
    page.get_by_label("Weight (kg)").fill("80")
    page.get_by_label("Height (cm)").fill("172")
    page.get_by_role("button", name="Save the exam").click()
    # The refusal names the field; fix it and save again.
    expect(page.get_by_role("alert")).to_contain_text("SpO2 (%) must be between 50 and 100")
    page.get_by_label("SpO2 (%)").fill("97")
    for item in ("burning", "electric_shocks", "numbness", "pinprick_hypoesthesia", "brushing"):
        page.locator(f"input[name='dn4_{item}'][value='yes']").check()
    for item in (
        "painful_cold",
        "tingling",
        "pins_and_needles",
        "itching",
        "touch_hypoesthesia",
    ):
        page.locator(f"input[name='dn4_{item}'][value='no']").check()
    page.get_by_role("button", name="Save the exam").click()
    expect(page.get_by_test_id("dn4-total")).to_have_text("5 / 10")

    page.get_by_role("link", name="Edit grade").click()
    page.get_by_label("History suggests").check()
    page.get_by_label("Pain distribution is neuroanatomically plausible").check()
    page.get_by_label("Sensory signs in the same distribution").check()
    page.get_by_role("button", name="Save the grade").click()
    expect(page.get_by_test_id("grade")).to_have_text("Probable")

    expect(page.get_by_test_id("decision-outcome")).to_have_text("Review")
    reason = page.locator("[data-code='first_line_not_exhausted']")
    expect(reason).to_contain_text("1 of 3 first-line drug classes")
    expect(reason).to_contain_text("Fewer than 2 of the 3 first-line classes")
    expect(reason).to_contain_text("Finnerup")
    no_sideways_scroll(page)

    override = page.get_by_test_id("override-form")
    override.get_by_label("Override to").select_option("eligible")
    override.get_by_label("Reason for the override").fill(
        "Duloxetine stopped for nausea in 2023 (referral letter)."
    )
    override.get_by_role("button", name="Override and sign").click()
    expect(page.get_by_test_id("final-outcome")).to_have_text("Eligible")
    expect(page.get_by_test_id("status")).to_have_text("Signed")
    no_sideways_scroll(page)

    c = Consultation.objects.get(patient=patient)
    assert c.is_locked
    assert c.decision.final_outcome == "eligible"
    assert c.decision.outcome == "review"
