"""A physician charting a consultation's history is warned before the automatic log-off, stays
signed in from the keyboard, is then signed out, signs in again, and finds what they typed back in
the form (accounts/session_timeout.py, static/ketaclinic/session-timeout.js).

The limits are seconds here (the live server runs in this process and reads the same settings):
a warning 10 seconds before an idle time-out of 20."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from ketaclinic.assessments.models import Consultation
from ketaclinic.audit.models import Action, AuditEvent
from tests.conftest import World
from tests.factories.assessments import start
from tests.plugins.browser import DESKTOP, PHONE, no_sideways_scroll, sign_in, submit_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Screenshots of the warning, for a person to look at: var/screenshots unless KETACLINIC_SHOTS names
# another directory.
SHOTS = Path(os.environ.get("KETACLINIC_SHOTS") or Path(__file__).parents[3] / "var/screenshots")
NOTES = "Burning pain in both feet since spring 2023; worse at night."


def drafts(page: Page) -> list[str]:
    """The drafts kept in the tab's sessionStorage (htmx keeps its own things there too)."""
    stored: dict[str, str] = page.evaluate("() => ({...sessionStorage})")
    return [value for key, value in stored.items() if key.startswith("ketaclinic.draft:")]


@pytest.fixture
def short_limits(settings: Any) -> None:
    settings.SESSION_IDLE_TIMEOUT_STAFF_SECONDS = 20
    settings.SESSION_TIMEOUT_WARNING_SECONDS = 10


# At phone width only: the dialog's layout is what differs, and it is the narrower screen that
# can break it; each run waits out two real warnings and a time-out (about 30 s).
def test_typed_history_survives_the_time_out_and_a_new_sign_in(
    live_server: Any, page: Page, world: World, short_limits: None
) -> None:
    viewport: ViewportSize = PHONE
    page.set_viewport_size(viewport)
    consultation = start(world)
    history = f"/staff/consultations/{consultation.public_id}/history/"
    sign_in(page, live_server.url, "doc@example.test")
    page.goto(f"{live_server.url}{history}")
    page.get_by_label("Pain now (0-10)").fill("7")
    page.get_by_label("Burning").check()
    page.get_by_label("Notes").fill(NOTES)

    warning = page.get_by_role("alertdialog", name="Are you still there?")
    expect(warning).to_be_visible()
    stay = warning.get_by_role("button", name="Stay signed in")
    expect(stay).to_be_focused()
    expect(warning).to_contain_text("You will be signed out in 0:")
    no_sideways_scroll(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"warning-{viewport['width']}.png"))

    # From the keyboard: the focused button, Enter. The warning goes, the form is still there.
    page.keyboard.press("Enter")
    expect(warning).to_be_hidden()
    expect(page.get_by_label("Notes")).to_have_value(NOTES)
    assert not AuditEvent.objects.filter(action=Action.TIMEOUT).exists()

    # Left alone this time: warned again, then signed out to the sign-in page, coming back here.
    expect(warning).to_be_visible()
    expect(page).to_have_url(
        f"{live_server.url}/accounts/login/?next={history.replace('/', '%2F')}"
    )
    expect(page.get_by_role("status")).to_contain_text(
        "You were signed out after 20 seconds without activity"
    )
    page.screenshot(path=str(SHOTS / f"signed-out-{viewport['width']}.png"))
    assert AuditEvent.objects.filter(action=Action.TIMEOUT, actor=world.physician).count() == 1
    [kept] = drafts(page)
    assert NOTES in kept
    assert "csrf" not in kept

    submit_sign_in(page, "doc@example.test")
    expect(page).to_have_url(f"{live_server.url}{history}")
    expect(page.get_by_test_id("draft-restored")).to_have_text(
        "We kept what you typed before you were signed out. Check it, then save."
    )
    expect(page.get_by_label("Notes")).to_have_value(NOTES)
    expect(page.get_by_label("Pain now (0-10)")).to_have_value("7")
    expect(page.get_by_label("Burning")).to_be_checked()
    page.screenshot(path=str(SHOTS / f"restored-{viewport['width']}.png"))
    # Restored once: the draft is gone from the tab.
    assert drafts(page) == []

    page.get_by_role("button", name="Save the history").click()
    expect(page.get_by_role("heading", level=1)).not_to_have_text("History")
    consultation = Consultation.objects.get(pk=consultation.pk)
    assert consultation.history_notes == NOTES
    assert consultation.pain_nrs == 7


def test_someone_else_signing_in_on_the_tab_does_not_get_the_draft(
    live_server: Any, page: Page, world: World, settings: Any
) -> None:
    # Nobody answers the warning here, so a shorter idle limit is enough: the phone number is
    # typed well within it.
    settings.SESSION_IDLE_TIMEOUT_STAFF_SECONDS = 10
    settings.SESSION_TIMEOUT_WARNING_SECONDS = 5
    page.set_viewport_size(DESKTOP)
    edit = f"/staff/patients/{world.alice_patient.public_id}/edit/"
    sign_in(page, live_server.url, "doc@example.test")
    page.goto(f"{live_server.url}{edit}")
    page.get_by_label("Phone").fill("(216) 555-0142")
    # No one answers the warning: signed out, the typed phone number kept in the tab.
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next={edit.replace('/', '%2F')}")
    assert len(drafts(page)) == 1

    # The front desk signs in on the same tab and opens the same page.
    submit_sign_in(page, "desk@example.test")
    expect(page).to_have_url(f"{live_server.url}{edit}")
    expect(page.get_by_label("Phone")).to_have_value(world.alice_patient.phone)
    expect(page.get_by_test_id("draft-restored")).to_have_count(0)
    assert drafts(page) == []
