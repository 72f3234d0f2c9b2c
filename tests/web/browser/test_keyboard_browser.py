"""Every kind of form works by keyboard alone (issue 16 item 11): the front desk books a visit,
a nurse charts vitals, the clinic admin changes a setting, and on a phone the menu opens and
closes, with Tab, Space, Enter, arrows and typing only: no click, no ``fill``. Each field is
reached by pressing Tab from the one before, so the order of the page is the order of the form.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from ketaclinic.clinics.models import Location
from ketaclinic.infusions.models import Observation
from ketaclinic.scheduling.models import Appointment
from tests.conftest import World
from tests.factories.infusions import day_at
from tests.factories.scheduling import setup_schedule
from tests.plugins.browser import DESKTOP, PHONE, sign_in_by_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Enough presses to cross the header and a long form, few enough to fail fast on a trap.
MAX_TABS = 80


def tab_to(page: Page, target: Locator) -> None:
    """Press Tab until ``target`` has the focus: it is reachable, after what had it before."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {target}")


def type_into(page: Page, field: Locator, text: str) -> None:
    tab_to(page, field)
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type(text)


def from_the_top(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("load")


@pytest.mark.usefixtures("afternoon_in_new_york")
def test_forms_and_the_phone_menu_work_by_keyboard_alone(
    live_server: Any, page: Page, world: World
) -> None:
    base = live_server.url
    setup_schedule(world)
    day = day_at(world, "infusing", world.bob_patient)
    page.set_viewport_size(DESKTOP)

    # The front desk books Alice's consultation: the first free time (Space), then Book (Enter).
    sign_in_by_cookie(page, base, world.front_desk)
    from_the_top(page, f"{base}/desk/patients/{world.alice_patient.public_id}/book/")
    first_slot = page.get_by_role("radio").first
    tab_to(page, first_slot)
    page.keyboard.press("Space")
    expect(first_slot).to_be_checked()
    tab_to(page, page.get_by_role("button", name="Book", exact=True))
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_be_visible()
    assert Appointment.objects.filter(patient=world.alice_patient).count() == 1

    # The nurse charts a set of vitals: numbers typed, the RASS chosen with the arrow keys.
    sign_in_by_cookie(page, base, world.nurse)
    from_the_top(page, f"{base}/infusions/sessions/{day.session.public_id}/")
    vitals = page.get_by_test_id("vitals-form")
    before = Observation.objects.filter(session=day.session).count()
    for label, value in (
        ("Systolic BP (mmHg)", "128"),
        ("Diastolic BP (mmHg)", "78"),
        ("Heart rate (/min)", "72"),
        ("SpO2 (%)", "98"),
        ("Resp. rate (/min)", "14"),
    ):
        type_into(page, vitals.get_by_label(label), value)
    rass = vitals.get_by_label("RASS")
    tab_to(page, rass)
    page.keyboard.press("ArrowDown")
    expect(rass).not_to_have_value("")
    tab_to(page, vitals.get_by_role("button", name="Save vitals"))
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("Vitals saved")
    assert Observation.objects.filter(session=day.session).count() > before

    # The clinic admin renames a location's phone number in the settings, by Enter in a field.
    sign_in_by_cookie(page, base, world.clinic_admin)
    from_the_top(page, f"{base}/clinic/locations/{world.charlotte.pk}/")
    phone = page.get_by_label("Phone")
    type_into(page, phone, "704-555-0142")
    tab_to(page, page.get_by_role("button", name="Save location"))
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_be_visible()
    assert Location.objects.get(pk=world.charlotte.pk).phone == "704-555-0142"

    # On a phone the menu is folded: Enter opens it, its links are next in the Tab order, and
    # Escape folds it again with the focus back on the button.
    page.set_viewport_size(PHONE)
    from_the_top(page, f"{base}/home/")
    menu = page.get_by_role("button", name="Menu")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav).to_be_hidden()
    tab_to(page, menu)
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(nav).to_be_visible()
    page.keyboard.press("Tab")
    expect(nav.get_by_role("link").first).to_be_focused()
    page.keyboard.press("Escape")
    expect(nav).to_be_hidden()
    expect(menu).to_be_focused()
    page.keyboard.press("Space")
    expect(nav).to_be_visible()
