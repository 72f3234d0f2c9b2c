"""The protocol form saves the template the physician chose, with the values the fields showed.

The reported bug: choosing "0.5 mg/kg over 40 min, 5 days" in the list and pressing "Calculate
and save" saved the preselected 0.35 mg/kg/h for 4 h x 10 sessions. Here each template is chosen
in turn (with the mouse, and once with the keyboard only), saved, and read back from the database
and from the plan page's words.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from ketaclinic.plans.models import KetamineProtocol
from tests.conftest import World
from tests.factories.plans import ASRA, CLEVELAND, SCHWARTZMAN, draft, template
from tests.plugins.browser import sign_in_by_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What the plan page says back for each template on the exam's 70 kg at 10 mg/mL.
WORDS = {
    CLEVELAND: "0.5 mg/kg over 40 min, 5 sessions, 35 mg, 5.2 mL/h",
    SCHWARTZMAN: "1.4 mg/kg over 4 h, capped at 25 mg/h, 10 sessions, 98 mg, 2.4 mL/h",
    ASRA: "80 mg over 2 h 30 min, 1 session, 80 mg, 3.2 mL/h",
}


def _assert_saved(world: World, page: Page, name: str) -> None:
    expect(page.get_by_test_id("protocol-template")).to_have_text(name)
    expect(page.get_by_test_id("protocol-words")).to_have_text(f"Saved for signing: {WORDS[name]}")
    chosen = template(world, name)
    protocol = KetamineProtocol.objects.get()
    assert (
        protocol.template_id,
        protocol.template_name,
        protocol.dose_mg_per_kg,
        protocol.fixed_dose_mg,
        protocol.duration_min,
        protocol.sessions_count,
    ) == (
        chosen.pk,
        name,
        chosen.dose_mg_per_kg,
        chosen.fixed_dose_mg,
        chosen.duration_min,
        chosen.sessions_count,
    )


def test_each_template_chosen_in_turn_is_the_one_saved(
    live_server: Any, page: Page, world: World
) -> None:
    plan = draft(world)
    sign_in_by_cookie(page, live_server.url, world.physician)
    page.goto(f"{live_server.url}/staff/plans/{plan.public_id}/")
    # The page opens on the first template (Schwartzman): the other two are chosen away from it.
    for name, dose_label, dose in (
        (CLEVELAND, "Dose (mg/kg per session)", "0.5"),
        (ASRA, "Fixed dose (mg per session)", "80"),
        (SCHWARTZMAN, "Dose (mg/kg per session)", "1.4"),
    ):
        page.get_by_role("link", name="ketamine protocol").click()
        # Chosen once the page has loaded: its script fills the fields on a change, and a change
        # made before the script runs is one no person could make.
        page.wait_for_url("**/protocol/", wait_until="load")
        page.get_by_label("Protocol template").select_option(label=name)
        # The fields fill at once, before anything is saved.
        expect(page.get_by_label(dose_label)).to_have_value(dose)
        expect(page.get_by_label("Infusion duration (minutes)")).to_have_value(
            str(template(world, name).duration_min)
        )
        page.get_by_role("button", name="Calculate and save").click()
        _assert_saved(world, page, name)


def test_a_template_chosen_with_the_keyboard_only_is_the_one_saved(
    live_server: Any, page: Page, world: World
) -> None:
    plan = draft(world)
    sign_in_by_cookie(page, live_server.url, world.physician)
    page.goto(f"{live_server.url}/staff/plans/{plan.public_id}/protocol/")
    select = page.get_by_label("Protocol template")
    expect(select).to_have_value(str(template(world, SCHWARTZMAN).pk))
    # The form's default (Enter) button is there for the keyboard, never drawn.
    expect(page.locator("button[hidden][value=save]")).to_be_hidden()
    select.focus()
    # One step down the list: from Schwartzman to the Cleveland template.
    page.keyboard.press("ArrowDown")
    expect(select).to_have_value(str(template(world, CLEVELAND).pk))
    expect(page.get_by_label("Dose (mg/kg per session)")).to_have_value("0.5")
    # Tab to the duration field and press Enter there: the form's default action is to save.
    duration = page.get_by_label("Infusion duration (minutes)")
    for _ in range(10):
        if duration.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(duration).to_be_focused()
    expect(duration).to_have_value("40")
    page.keyboard.press("Enter")
    _assert_saved(world, page, CLEVELAND)
