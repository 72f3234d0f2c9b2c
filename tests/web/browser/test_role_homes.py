"""Each role signs in through the real log-in form and lands on its own home page, on a desktop
and on a phone-sized screen."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from ketaclinic.accounts.models import Role
from tests import factories
from tests.plugins.browser import DESKTOP, PHONE, submit_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOMES = [
    (Role.PATIENT, "Hello, Alice", "My details"),
    (Role.FRONT_DESK, "Front desk", "Patients"),
    (Role.NURSE, "Nursing", "Patients"),
    (Role.PHYSICIAN, "Physician", "Patients"),
    (Role.CLINIC_ADMIN, "Clinic administration", "Audit trail"),
]


def _make(role: Role) -> str:
    clinic = factories.make_clinic()
    location = factories.make_location(clinic)
    email = f"{role.value}@example.test"
    user = factories.make_user(clinic, role, email=email, locations=(location,))
    if role == Role.PATIENT:
        factories.make_patient(clinic, given="Alice", family="Moreno", user=user, location=location)
    return email


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize(("role", "heading", "nav_link"), HOMES, ids=[r.value for r, *_ in HOMES])
def test_each_role_signs_in_and_sees_its_home(
    live_server: Any, page: Page, viewport: ViewportSize, role: Role, heading: str, nav_link: str
) -> None:
    email = _make(role)
    page.set_viewport_size(viewport)
    page.goto(f"{live_server.url}/accounts/login/")
    # The shared step: the password, then (staff) the authenticator app's code.
    submit_sign_in(page, email)
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.get_by_test_id("who")).to_contain_text(role.label)
    nav = page.get_by_role("navigation", name="Main")
    if viewport is PHONE:
        # On a phone the navigation folds behind a menu button that works from the keyboard.
        expect(nav).to_be_hidden()
        menu = page.get_by_role("button", name="Menu")
        menu.focus()
        page.keyboard.press("Enter")
        expect(menu).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name=nav_link)).to_be_visible()
    # Nothing overflows sideways on either screen.
    overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    assert overflow is False


def test_the_skip_link_is_the_first_tab_stop(live_server: Any, page: Page) -> None:
    page.goto(f"{live_server.url}/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content"
