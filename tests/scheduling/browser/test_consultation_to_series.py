"""Issue 5 end to end on the demo clinic, in a real browser: a physician runs a consultation on a
demo patient, gets a "review" decision with its reasons, overrides it with a reason, builds a plan,
sees the dose and the concentration curve, signs, and books the induction series; the front desk
then finds the series on the schedule."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, ViewportSize, expect

from ketaclinic.accounts.models import User
from ketaclinic.assessments.models import Consultation
from ketaclinic.devdata.demo import DEMO_DOMAIN, load_demo
from ketaclinic.patients.models import Patient
from ketaclinic.plans.models import Plan
from ketaclinic.scheduling.models import InductionSeries
from tests.plugins.browser import DESKTOP, PHONE, no_sideways_scroll, sign_in_by_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CLEVELAND_TEMPLATE = "0.5 mg/kg over 40 min, 5 consecutive days"


def _next_monday() -> dt.date:
    day = timezone.localdate() + dt.timedelta(days=7)
    return day + dt.timedelta(days=(0 - day.weekday()) % 7)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_from_consultation_to_a_booked_series_on_the_schedule(
    live_server: Any, page: Page, viewport: ViewportSize
) -> None:
    load_demo()
    patient = Patient.objects.get(given_name="Farid", family_name="Haddad")
    page.set_viewport_size(viewport)
    # Demo log-ins work only in demo mode; the log-in form has its own tests, so a session
    # cookie for the demo user stands in for typing the password.
    sign_in_by_cookie(page, live_server.url, User.objects.get(email=f"physician@{DEMO_DOMAIN}"))

    # The chart is where the physician starts.
    page.goto(f"{live_server.url}/staff/patients/{patient.public_id}/")
    page.get_by_role("link", name="Start consultation").click()
    page.get_by_role("button", name="Start the consultation").click()
    page.get_by_label("Pain duration (months)").fill("30")
    page.get_by_label("Pain now (0-10)").fill("7")
    page.get_by_label("Left leg or foot").check()
    page.get_by_label("Burning").check()
    page.get_by_label("Causes and diagnoses").select_option(["snomed|230572002", "icd10cm|E11.42"])
    page.get_by_label("Gabapentin").select_option("failed")
    page.get_by_role("button", name="Save the history").click()

    page.get_by_role("link", name="Edit exam and DN4").click()
    page.get_by_label("Systolic BP (mmHg)").fill("128")
    page.get_by_label("Diastolic BP (mmHg)").fill("82")
    page.get_by_label("Heart rate (/min)").fill("72")
    page.get_by_label("SpO2 (%)").fill("98")
    page.get_by_label("Weight (kg)").fill("82")
    page.get_by_label("Height (cm)").fill("178")
    for item in ("burning", "electric_shocks", "numbness", "pinprick_hypoesthesia", "brushing"):
        page.locator(f"input[name='dn4_{item}'][value='yes']").check()
    for item in ("painful_cold", "tingling", "pins_and_needles", "itching", "touch_hypoesthesia"):
        page.locator(f"input[name='dn4_{item}'][value='no']").check()
    page.get_by_role("button", name="Save the exam").click()
    expect(page.get_by_test_id("dn4-total")).to_have_text("5 / 10")

    page.get_by_role("link", name="Edit grade").click()
    page.get_by_label("History suggests").check()
    page.get_by_label("Pain distribution is neuroanatomically plausible").check()
    page.get_by_label("Sensory signs in the same distribution").check()
    page.get_by_role("button", name="Save the grade").click()

    # Only one first-line class failed: the rules say "review", with the reason and its source.
    expect(page.get_by_test_id("decision-outcome")).to_have_text("Review")
    reason = page.locator("[data-code='first_line_not_exhausted']")
    expect(reason).to_contain_text("Fewer than 2 of the 3 first-line classes")
    expect(reason).to_contain_text("Finnerup")
    no_sideways_scroll(page)
    override = page.get_by_test_id("override-form")
    override.get_by_label("Override to").select_option("eligible")
    override.get_by_label("Reason for the override").fill(
        "Pregabalin not tolerated in 2024 per the referral letter."
    )
    override.get_by_role("button", name="Override and sign").click()
    expect(page.get_by_test_id("final-outcome")).to_have_text("Eligible")

    # The plan, from the chart.
    page.goto(f"{live_server.url}/staff/patients/{patient.public_id}/")
    page.get_by_role("link", name="Plans").click()
    page.get_by_role("link", name="Start a plan").click()
    page.get_by_label("Goals").fill("Walk the dog every morning.")
    page.get_by_label("Review date").fill(
        (timezone.localdate() + dt.timedelta(days=90)).isoformat()
    )
    page.get_by_label("Mindfulness").fill("Eight-week course")
    page.get_by_role("button", name="Save draft").click()
    page.get_by_role("link", name="Set ketamine protocol").click()
    page.wait_for_url("**/protocol/", wait_until="load")
    # With the page's script the choice fills the fields at once; "Use this template" is the
    # form's way without JavaScript, hidden here.
    page.get_by_label("Protocol template").select_option(label=CLEVELAND_TEMPLATE)
    expect(page.get_by_role("button", name="Use this template")).to_be_hidden()
    expect(page.get_by_label("Dose (mg/kg per session)")).to_have_value("0.5")
    # Weight and height come from today's exam, shown and not typed.
    expect(page.get_by_test_id("exam-measurements")).to_contain_text("weight 82 kg")
    expect(page.get_by_label("Weight (kg)")).to_have_count(0)
    page.get_by_role("button", name="Calculate and save").click()
    expect(page.get_by_test_id("total-mg")).to_have_text("41 mg")  # 0.5 mg/kg x 82 kg
    expect(page.get_by_role("img", name="Predicted plasma concentration")).to_be_attached()
    no_sideways_scroll(page)
    page.get_by_role("button", name="Sign plan").click()
    expect(page.get_by_test_id("plan-status")).to_have_text("Signed")

    # The induction series, from the signed plan.
    page.get_by_role("link", name="Book induction series").click()
    page.goto(f"{page.url}?from={_next_monday().isoformat()}")
    expect(page.get_by_test_id("series-proposal").locator("tbody tr")).to_have_count(5)
    no_sideways_scroll(page)
    page.get_by_role("button", name="Book this series").click()
    expect(page.get_by_test_id("series-status")).to_have_text("Booked")

    series = InductionSeries.objects.get(patient=patient)
    sessions = list(series.sessions.select_related("chair").order_by("start"))
    assert len(sessions) == 5
    new_york = zoneinfo.ZoneInfo("America/New_York")
    assert [s.start.astimezone(new_york).weekday() for s in sessions] == [0, 1, 2, 3, 4]
    consultation = Consultation.objects.get(patient=patient)
    assert consultation.decision.outcome == "review"
    assert consultation.decision.final_outcome == "eligible"
    assert Plan.objects.get(patient=patient).status == "signed"

    # The front desk finds the series on the schedule, in its chair's column.
    sign_in_by_cookie(page, live_server.url, User.objects.get(email=f"frontdesk@{DEMO_DOMAIN}"))
    page.goto(f"{live_server.url}/desk/series/{series.public_id}/")
    page.get_by_role("link", name="On the schedule").click()
    first_chair = sessions[0].chair
    assert first_chair is not None
    chair = page.get_by_role("region", name=first_chair.name)
    expect(chair.get_by_test_id("sched-item").filter(has_text="Farid Haddad")).to_have_count(5)
    no_sideways_scroll(page)
