"""A visitor completes the self-check in a real browser, on a phone and on a desktop screen."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from tests.plugins.browser import DESKTOP, PHONE, no_sideways_scroll
from tests.screening.browser.steps import answer_yes_no, expect_step, fill_to_the_end, next_, tick
from tests.screening.helpers import FEEL

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_visitor_completes_the_self_check_going_back_on_the_way(
    live_server: Any, page: Page, viewport: ViewportSize
) -> None:
    page.set_viewport_size(viewport)
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Take the self-check").click()
    page.get_by_role("link", name="Start the self-check").click()

    expect_step(page, 1)
    no_sideways_scroll(page)
    # Touch targets: every answer label is at least 44 px tall.
    heights = page.locator("label.option").evaluate_all(
        "labels => labels.map(l => l.getBoundingClientRect().height)"
    )
    assert min(heights) >= 44
    # Submitting with nothing answered names each missing answer.
    next_(page)
    expect(page.get_by_role("alert")).to_contain_text("Burning: choose yes or no.")
    answer_yes_no(page, FEEL, yes=("burning", "pins_and_needles", "numbness", "electric_shocks"))
    next_(page)

    expect_step(page, 2)
    page.locator('label[for="id_duration_3"]').click()  # 6 to 12 months
    next_(page)
    expect_step(page, 3)
    tick(page, "regions", "feet", "legs")
    # Back to step 2: the duration chosen is still selected; then back to step 1.
    page.get_by_role("button", name="Back").click()
    expect_step(page, 2)
    expect(page.locator("#id_duration_3")).to_be_checked()
    page.get_by_role("button", name="Back").click()
    expect_step(page, 1)
    expect(page.locator("#id_burning_1")).to_be_checked()
    expect(page.locator("#id_itching_0")).to_be_checked()
    next_(page)
    next_(page)
    # The areas ticked on step 3 were kept when going back from it.
    expect_step(page, 3)
    expect(page.locator('input[name="regions"][value="feet"]')).to_be_checked()
    expect(page.locator('input[name="regions"][value="legs"]')).to_be_checked()
    no_sideways_scroll(page)
    next_(page)

    fill_to_the_end(page)
    expect(page.get_by_test_id("not-diagnosis")).to_contain_text(
        "This is a screening, not a diagnosis."
    )
    expect(page.get_by_test_id("score-dn4-interview")).to_contain_text("4 out of 7")
    expect(page.get_by_test_id("chronic")).to_contain_text("your pain counts as chronic")
    book = page.get_by_role("link", name="Book a consultation")
    expect(book).to_be_visible()
    expect(book).to_have_attribute("href", "/book/")
    expect(page.get_by_test_id("urgent-care")).to_have_count(0)
    no_sideways_scroll(page)


def test_the_self_check_works_from_the_keyboard(live_server: Any, page: Page) -> None:
    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_server.url}/self-check/feel/")
    answer_yes_no(page, FEEL)
    page.keyboard.press("Enter")  # the default button is Next, not Back
    expect_step(page, 2)
    page.locator("#id_duration_0").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#id_duration_2")).to_be_checked()
    page.keyboard.press("Enter")
    expect_step(page, 3)
    page.locator('input[name="regions"][value="hands"]').focus()
    page.keyboard.press("Space")
    page.keyboard.press("Enter")
    expect_step(page, 4)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_red_flag_shows_urgent_care_advice_and_no_booking(
    live_server: Any, page: Page, viewport: ViewportSize
) -> None:
    page.set_viewport_size(viewport)
    page.goto(f"{live_server.url}/self-check/feel/")
    answer_yes_no(page, FEEL, yes=("burning",))
    next_(page)
    page.locator('label[for="id_duration_1"]').click()
    next_(page)
    tick(page, "regions", "chest")
    next_(page)
    fill_to_the_end(page, flags=("chest_pain",))

    urgent = page.get_by_test_id("urgent-care")
    expect(urgent).to_be_visible()
    expect(urgent).to_contain_text("Call 911 now, or go to the nearest emergency department.")
    expect(urgent).to_contain_text("Chest pain")
    expect(page.get_by_role("link", name="Book a consultation")).to_have_count(0)
    expect(page.locator('a[href="/book/"]')).to_have_count(0)
    no_sideways_scroll(page)
