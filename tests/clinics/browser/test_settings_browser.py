"""A clinic admin works the settings on a phone and a desktop: changes a dose limit with a note,
sees it in the history, invites a nurse who joins from the emailed link."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from playwright.sync_api import Page, ViewportSize, expect

from ketaclinic.accounts.models import User
from ketaclinic.clinics.selectors import clinic_policy_current
from tests.conftest import World
from tests.plugins.browser import DESKTOP, PHONE, no_sideways_scroll, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SETTINGS_PAGES = [
    "/clinic/settings/",
    "/clinic/settings/safety/",
    "/clinic/settings/safety/edit/",
    "/clinic/settings/safety/history/",
    "/clinic/locations/",
    "/clinic/staff/",
    "/clinic/staff/invite/",
    "/clinic/protocols/",
    "/clinic/protocols/new/",
]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_an_admin_changes_a_dose_limit_and_invites_a_nurse(
    live_server: Any, page: Page, world: World, viewport: ViewportSize
) -> None:
    page.set_viewport_size(viewport)
    sign_in(page, live_server.url, "admin@example.test")
    for path in SETTINGS_PAGES:
        page.goto(f"{live_server.url}{path}")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        no_sideways_scroll(page)

    page.goto(f"{live_server.url}/clinic/settings/safety/")
    page.get_by_role("link", name="Change settings").click()
    page.get_by_label("Maximum total per session (mg)").fill("150")
    page.get_by_label("What changed and why").fill("Medical director: lower cap")
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.get_by_text("Saved as version 2.")).to_be_visible()
    expect(page.locator("[data-setting=max_session_mg] strong")).to_have_text("150 mg")
    page.get_by_role("link", name="History of changes").click()
    expect(page.locator("[data-version='2']")).to_contain_text("Medical director: lower cap")
    expect(page.locator("[data-version='2'] tbody tr")).to_have_text(
        re.compile(r"Maximum total per session\s*200 mg\s*150 mg")
    )
    assert clinic_policy_current(clinic_id=world.clinic.pk).max_session_mg == 150.0

    page.goto(f"{live_server.url}/clinic/staff/invite/")
    page.get_by_label("Email").fill("nora@example.test")
    page.get_by_label("Role").select_option("nurse")
    page.get_by_label("Cleveland").check()
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation emailed to nora@example.test.")).to_be_visible()
    (message,) = [m for m in mail.outbox if m.to == ["nora@example.test"]]
    link = re.search(r"http://\S+(/clinic/staff/join/\S+/)", str(message.body))
    assert link is not None

    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{live_server.url}{link.group(1)}")
    no_sideways_scroll(page)
    page.get_by_label("Your name").fill("Nora Nurse")
    page.get_by_label("Choose a password").fill("a-long-and-unusual-passphrase")
    page.get_by_label("The password again").fill("a-long-and-unusual-passphrase")
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_test_id("who")).to_contain_text("Nora Nurse")
    nora = User.objects.get(email="nora@example.test")
    assert (nora.role, nora.clinic_id) == ("nurse", world.clinic.pk)
    assert list(nora.locations.all()) == [world.cleveland]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_raised_limit_waits_for_a_physician_who_approves_it(
    live_server: Any, page: Page, world: World, viewport: ViewportSize
) -> None:
    # Gate 9: the admin proposes 250 mg; 200 mg stays in force until a physician approves.
    page.set_viewport_size(viewport)
    sign_in(page, live_server.url, "admin@example.test")
    page.goto(f"{live_server.url}/clinic/settings/safety/edit/")
    page.get_by_label("Maximum total per session (mg)").fill("250")
    page.get_by_label("What changed and why").fill("Heavier patients at Cleveland")
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.get_by_text("Version 1 stays in force until then.")).to_be_visible()
    expect(page.locator("[data-setting=max_session_mg] strong")).to_have_text("200 mg")
    expect(page.get_by_role("heading", name="Waiting for a second physician")).to_be_visible()
    no_sideways_scroll(page)
    assert clinic_policy_current(clinic_id=world.clinic.pk).max_session_mg == 200.0

    page.context.clear_cookies()
    sign_in(page, live_server.url, "doc@example.test")
    if viewport == DESKTOP:
        # The physician's navigation leads to the page (on a phone it sits behind the menu).
        page.get_by_role("link", name="Safety settings").click()
    else:
        page.goto(f"{live_server.url}/clinic/safety-proposals/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Proposed changes to the safety settings"
    )
    no_sideways_scroll(page)
    page.get_by_label("Note with your approval").fill("Checked with the medical director")
    page.get_by_role("button", name="Approve this change").click()
    expect(page.get_by_text("Approved: version 2 is in force.")).to_be_visible()
    expect(page.get_by_text("No change is waiting for a decision.")).to_be_visible()
    assert clinic_policy_current(clinic_id=world.clinic.pk).max_session_mg == 250.0
