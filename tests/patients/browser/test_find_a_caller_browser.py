"""In a real browser: the front desk finds a caller by the phone number she gives, in the format
she says it, and tells her from a namesake by her date of birth; the search text never reaches
the address bar (issue 16 item 2)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from tests.conftest import World
from tests.plugins.browser import sign_in_by_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_desk_finds_a_caller_by_phone_and_date_of_birth(
    live_server: Any, page: Page, world: World
) -> None:
    carmen = factories.make_patient(
        world.clinic,
        given="Carmen",
        family="Delgado",
        phone="+1 216-555-0101",
        date_of_birth=dt.date(1966, 3, 2),
    )
    # Her daughter shares the family phone.
    factories.make_patient(
        world.clinic,
        given="Lucia",
        family="Delgado",
        phone="2165550101",
        date_of_birth=dt.date(1994, 7, 9),
    )
    sign_in_by_cookie(page, live_server.url, world.front_desk)
    patients = f"{live_server.url}/staff/patients/"
    page.goto(patients)
    search = page.get_by_label("Find a patient")
    expect(page.get_by_test_id("patient-search")).to_contain_text("MM/DD/YYYY")

    search.fill("(216) 555 0101")
    search.press("Enter")
    expect(page.get_by_test_id("result-count")).to_have_text("2 patients match")
    assert page.url == patients  # the number is not in the address

    search.fill("(216) 555 0101 3/2/1966")
    search.press("Enter")
    expect(page.get_by_test_id("result-count")).to_have_text("1 patient matches")
    expect(page.get_by_role("link", name="Delgado, Lucia")).to_have_count(0)

    search.fill("216-555-0101 02/30/1966")
    search.press("Enter")
    expect(page.get_by_text("Date of birth: “02/30/1966” is not a date.")).to_be_visible()

    search.fill("216.555.0101 1966-03-02")
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_role("link", name="Delgado, Carmen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Carmen Delgado")
    assert str(carmen.public_id) in page.url
