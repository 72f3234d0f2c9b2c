"""The self-check prefill (issue 16 item 5): a patient who did the self-check before booking;
her physician opens the new consultation's history, sees her answers marked "From the
self-check", completes and saves it, and the consultation says where the values came from."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from ketaclinic.assessments.models import HistoryPrefill
from ketaclinic.audit.services import Actor
from ketaclinic.screening.services import selfcheck_attach, selfcheck_submit
from tests.conftest import World
from tests.factories.assessments import start
from tests.plugins.browser import DESKTOP, no_sideways_scroll, sign_in
from tests.screening.helpers import FEEL, answers

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_physician_starts_the_history_from_the_patients_self_check(
    live_server: Any, page: Page, world: World
) -> None:
    # The self-check as a visitor took it, attached when she booked (screening.api handoff).
    selfcheck = selfcheck_submit(
        answers=answers(
            feel={**dict.fromkeys(FEEL, False), "burning": True, "tingling": True},
            duration={"duration": "over_12"},
            where={"regions": ["lower_back"]},
            treatments={"treatments": ["gabapentin"]},
        )
    )
    selfcheck_attach(actor=Actor(user=None), selfcheck=selfcheck, patient=world.alice_patient)
    c = start(world)

    page.set_viewport_size(DESKTOP)
    sign_in(page, live_server.url, "doc@example.test")
    page.goto(f"{live_server.url}/staff/consultations/{c.public_id}/history/")
    expect(page.get_by_test_id("prefill-note")).to_contain_text(
        "Started from the patient's self-check on"
    )
    duration = page.get_by_test_id("prefilled-pain_duration_months")
    expect(duration).to_contain_text("From the self-check")
    expect(duration).to_contain_text("More than a year")
    expect(page.get_by_label("Pain duration (months)")).to_have_value("18")
    expect(page.get_by_label("Lower back")).to_be_checked()
    expect(page.get_by_label("Burning")).to_be_checked()
    expect(page.get_by_label("Tingling")).to_be_checked()
    expect(page.get_by_test_id("prefilled-therapy_gabapentin")).to_contain_text("tried")
    expect(page.get_by_test_id("prefilled-pain_nrs")).to_have_count(0)
    no_sideways_scroll(page)

    page.get_by_label("Pain now (0-10)").fill("6")
    page.get_by_label("Gabapentin").select_option("failed")
    page.get_by_role("button", name="Save the history").click()
    expect(page.get_by_test_id("prefill-source")).to_contain_text(
        "pain duration, where the pain is, how it feels, treatments tried; confirmed by "
        "Dr. Paul Physician"
    )
    assert HistoryPrefill.objects.get(consultation=c).fields == [
        "pain_duration_months",
        "pain_regions",
        "pain_descriptors",
        "prior_treatments",
    ]
