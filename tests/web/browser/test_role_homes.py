"""Each role signs in through the real log-in form and lands on its own home page, on a desktop
and on a phone-sized screen; on the demo clinic each role's home is a worklist whose lines lead to
where the work is done (issue 16)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from ketaclinic.accounts.models import Role, User
from ketaclinic.devdata.demo import load_demo
from ketaclinic.devdata.today import DEMO_DOMAIN
from ketaclinic.web.worklists import nav_count
from tests import factories
from tests.plugins.browser import DESKTOP, PHONE, sign_in_by_cookie, submit_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOMES = [
    (Role.PATIENT, "Hello, Alice", "My details"),
    (Role.FRONT_DESK, "Front desk", "Patients"),
    (Role.NURSE, "Nursing", "Patients"),
    (Role.PHYSICIAN, "Today", "Patients"),
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


# --- issue 16: each role's worklist on the demo clinic -----------------------------------------

LAPTOP: ViewportSize = {"width": 1366, "height": 800}

# Demo log-in -> the home's heading and the sections it always has (the demo's data changes
# with the day; the structure and where each line leads do not).
DEMO_HOMES = [
    (f"physician@{DEMO_DOMAIN}", "Today", ["consultations", "decisions", "plans", "sessions"]),
    (f"nurse@{DEMO_DOMAIN}", "Nursing", ["vitals", "alerts", "chairs-"]),
    (f"frontdesk@{DEMO_DOMAIN}", "Front desk", ["arrivals", "bookings", "offers", "no_shows"]),
    (f"admin@{DEMO_DOMAIN}", "Clinic administration", ["proposals", "invitations", "jobs"]),
]


def _nav_fits_one_row(page: Page) -> bool:
    """The navigation's links on one row once the page has settled: read right after a click,
    the stylesheet may not have applied yet (links stacked) or the count beside "Home" may still
    be on its way, so the layout is read again for a few seconds before it counts as wrapped."""
    page.wait_for_load_state("load")
    for _ in range(20):
        tops = page.eval_on_selector_all(
            "#main-nav a", "links => links.map(a => Math.round(a.getBoundingClientRect().top))"
        )
        if len(set(tops)) == 1:
            return True
        page.wait_for_timeout(250)
    return False


@pytest.mark.usefixtures("afternoon_in_new_york")
def test_each_roles_worklist_on_the_demo_clinic_leads_to_where_the_work_is_done(
    live_server: Any, page: Page
) -> None:
    load_demo()
    for email, heading, sections in DEMO_HOMES:
        user = User.objects.get(email=email)
        sign_in_by_cookie(page, live_server.url, user)
        page.set_viewport_size(LAPTOP)
        page.goto(f"{live_server.url}/home/")
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        for key in sections:
            expect(page.locator(f"[data-testid^='worklist-{key}']").first).to_be_visible()
        # The count beside "Home" arrives after the page (htmx), as the worklist counts it.
        count = nav_count(user)
        home_link = page.get_by_role("navigation", name="Main").get_by_role("link").first
        if count:
            expect(home_link.locator(".nav-count")).to_have_text(f"{count} to do")
        assert _nav_fits_one_row(page), email
        # Every line is a link to a page that opens; the first one is followed.
        hrefs = page.eval_on_selector_all(
            ".worklist .wl-lines a", "links => links.map(a => a.getAttribute('href'))"
        )
        if hrefs:
            page.locator(".worklist .wl-lines a").first.click()
            expect(page).to_have_url(f"{live_server.url}{hrefs[0]}")
            expect(page.get_by_role("heading", level=1)).to_be_visible()
        page.set_viewport_size(PHONE)
        page.goto(f"{live_server.url}/home/")
        expect(page.get_by_role("button", name="Menu")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth > window.innerWidth") is False

    # The nurse's chairs: one line a chair of her location, each to the board or the session.
    sign_in_by_cookie(page, live_server.url, User.objects.get(email=f"nurse@{DEMO_DOMAIN}"))
    page.set_viewport_size(LAPTOP)
    page.goto(f"{live_server.url}/home/")
    chairs = page.locator("[data-testid^='worklist-chairs-'] .wl-lines li")
    expect(chairs).to_have_count(6)  # Cleveland's six chairs
    expect(chairs.first).to_contain_text("Chair 1")

    # Alice's home: her next visit, what is due, her plan, each leading to its page.
    alice = User.objects.get(email=f"alice@{DEMO_DOMAIN}")
    sign_in_by_cookie(page, live_server.url, alice)
    page.goto(f"{live_server.url}/home/")
    # The demo books her series some days (her next visit, its zone named) and not others.
    expect(page.get_by_test_id("next-visit")).to_contain_text(
        re.compile("time zone|no visit booked")
    )
    page.get_by_test_id("next-visit").get_by_role("link", name="See all my visits").click()
    expect(page).to_have_url(f"{live_server.url}/me/appointments/")
    page.go_back()
    page.get_by_test_id("due").get_by_role("link", name="Open my diary").click()
    expect(page).to_have_url(f"{live_server.url}/me/diary/")
    assert _nav_fits_one_row(page)
