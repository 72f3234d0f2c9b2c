"""Steps of the self-check in a real browser, shared by the browser tests that walk it."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from ketaclinic.screening import questions as q
from tests.screening.helpers import FEEL, FLAGS, SELF_TESTS


def answer_yes_no(page: Page, keys: list[str], yes: tuple[str, ...] = ()) -> None:
    # Click the big labels, as a thumb would, not the small radio buttons inside them.
    for key in keys:
        index = 1 if key in yes else 0
        page.locator(f'label[for="id_{key}_{index}"]').click()


def tick(page: Page, name: str, *values: str) -> None:
    for value in values:
        page.locator(f'input[name="{name}"][value="{value}"]').locator("xpath=..").click()


def expect_step(page: Page, number: int) -> None:
    expect(page.get_by_test_id("progress")).to_have_text(f"Step {number} of {len(q.STEPS)}")
    expect(page.get_by_role("heading", level=1)).to_have_text(q.STEPS[number - 1].title)


def next_(page: Page) -> None:
    page.get_by_role("button", name="Next").click()


def fill_to_the_end(page: Page, *, flags: tuple[str, ...] = ()) -> None:
    """From step 4 on: triggers, conditions, treatments, self-tests, warning signs."""
    expect_step(page, 4)
    tick(page, "triggers", "touch", "cold")
    next_(page)
    expect_step(page, 5)
    tick(page, "conditions", "diabetes")
    next_(page)
    expect_step(page, 6)
    tick(page, "treatments", "gabapentin", "physical_therapy")
    next_(page)
    expect_step(page, 7)
    expect(page.get_by_text("How to do the two tests")).to_be_visible()
    answer_yes_no(page, SELF_TESTS, yes=("rub_self_test",))
    next_(page)
    expect_step(page, 8)
    answer_yes_no(page, FLAGS, yes=flags)
    page.get_by_role("button", name="See my result").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your self-check result")


def complete_self_check(page: Page) -> None:
    """From the home page to the result of a positive self-check with no warning signs."""
    page.get_by_role("link", name="Take the self-check").click()
    page.get_by_role("link", name="Start the self-check").click()
    expect_step(page, 1)
    answer_yes_no(page, FEEL, yes=("burning", "pins_and_needles", "numbness", "electric_shocks"))
    next_(page)
    expect_step(page, 2)
    page.locator('label[for="id_duration_3"]').click()  # 6 to 12 months
    next_(page)
    expect_step(page, 3)
    tick(page, "regions", "feet", "legs")
    next_(page)
    fill_to_the_end(page)
