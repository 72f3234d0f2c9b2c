"""In a real browser at 1366 and 390 px: the patient list and the audit trail page with the
shared pager (issue 17): nothing wider than the screen, the pager reached by the keyboard and
followed with Enter, the current page marked. Set KETACLINIC_SHOTS to a directory to keep a
screenshot of each page and width."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from ketaclinic.audit.models import AuditEvent
from tests import factories
from tests.conftest import World
from tests.plugins.browser import PHONE, no_sideways_scroll, sign_in_by_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDE = {"width": 1366, "height": 900}


def _shot(page: Page, name: str) -> None:
    folder = os.environ.get("KETACLINIC_SHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _events(world: World, n: int) -> None:
    start = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
    AuditEvent.objects.bulk_create(
        AuditEvent(
            occurred_at=start + dt.timedelta(minutes=i),
            clinic=world.clinic,
            actor=world.nurse,
            actor_role="nurse",
            action="read",
            object_type="patient",
            patient=world.alice_patient,
            prev_hash="0" * 64,
            hash="0" * 64,
        )
        for i in range(n)
    )


@pytest.mark.parametrize("size", [WIDE, PHONE], ids=["1366", "390"])
def test_the_patient_list_pages_by_keyboard_at_any_width(
    live_server: Any, page: Page, world: World, size: Any
) -> None:
    for i in range(60):
        factories.make_patient(world.clinic, given=f"Many{i:02d}", family="Paged")
    page.set_viewport_size(size)
    sign_in_by_cookie(page, live_server.url, world.front_desk)
    page.goto(f"{live_server.url}/staff/patients/")
    pager = page.get_by_role("navigation", name="Pages of patients")
    expect(pager.locator('[aria-current="page"]')).to_have_text("1")
    no_sideways_scroll(page)
    _shot(page, f"patients-{size['width']}")
    pager.get_by_role("link", name="Next").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("result-count")).to_contain_text("page 2 of 3")
    expect(pager.locator('[aria-current="page"]')).to_have_text("2")


@pytest.mark.parametrize("size", [WIDE, PHONE], ids=["1366", "390"])
def test_the_audit_trail_pages_older_and_newer_at_any_width(
    live_server: Any, page: Page, world: World, size: Any
) -> None:
    _events(world, 230)
    page.set_viewport_size(size)
    sign_in_by_cookie(page, live_server.url, world.clinic_admin)
    page.goto(f"{live_server.url}/clinic/audit/")
    above = page.get_by_role("navigation", name="Pages, above the events")
    expect(page.get_by_test_id("pager-summary")).to_contain_text("events match")
    expect(above.locator('[aria-current="page"]')).to_have_text("Page 1 of 3")
    no_sideways_scroll(page)
    _shot(page, f"audit-{size['width']}")
    above.get_by_role("link", name="Older").focus()
    page.keyboard.press("Enter")
    expect(above.locator('[aria-current="page"]')).to_have_text("Page 2 of 3")
    assert "?at=" in page.url
    no_sideways_scroll(page)
