"""A physician who signed in a while ago signs a plan: asked for the password, then the code from
the authenticator app, and lands on the plan, signed (issue 15 item 3)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from ketaclinic.audit.models import AuditEvent
from ketaclinic.plans.models import Plan
from tests.conftest import World
from tests.factories import PASSWORD, ensure_eligible
from tests.factories.accounts import unused_totp_code
from tests.factories.plans import draft, with_protocol
from tests.plugins.browser import DESKTOP, PHONE, no_sideways_scroll, sign_in_by_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Screenshots to look at (not compared): the temporary directory's shots-reauth/.
SHOTS = Path(tempfile.gettempdir()) / "shots-reauth"


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_physician_confirms_who_they_are_and_the_plan_is_signed(
    live_server: Any, page: Page, world: World, viewport: ViewportSize
) -> None:
    SHOTS.mkdir(exist_ok=True)
    size = viewport["width"]
    ensure_eligible(world.alice_patient, world.physician)
    plan = with_protocol(world, draft(world))
    page.set_viewport_size(viewport)
    # Signed in (password and code) earlier than ACCOUNT_REAUTHENTICATION_TIMEOUT allows.
    sign_in_by_cookie(page, live_server.url, world.physician, minutes_ago=30)
    page.goto(f"{live_server.url}/staff/plans/{plan.public_id}/")
    expect(page.get_by_test_id("plan-status")).to_have_text("Draft")

    page.get_by_role("button", name="Sign plan").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm it's you")
    expect(page.get_by_text("What you submitted is kept")).to_be_visible()
    no_sideways_scroll(page)
    page.screenshot(path=str(SHOTS / f"password-{size}.png"), full_page=True)
    assert Plan.objects.get().status == "draft"

    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("alert")).to_contain_text("Password: Incorrect password.")
    page.screenshot(path=str(SHOTS / f"password-refused-{size}.png"), full_page=True)
    assert Plan.objects.get().status == "draft"

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_text("Enter the 6-digit code")).to_be_visible()
    no_sideways_scroll(page)
    page.screenshot(path=str(SHOTS / f"code-{size}.png"), full_page=True)
    assert Plan.objects.get().status == "draft"
    page.get_by_label("Code").fill(unused_totp_code(world.physician))
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_test_id("plan-status")).to_have_text("Signed")
    expect(page.get_by_text("Plan 1 signed.")).to_be_visible()
    page.screenshot(path=str(SHOTS / f"signed-{size}.png"), full_page=True)
    assert Plan.objects.get().signed_by == world.physician
    assert list(
        AuditEvent.objects.filter(action__in=("reauth", "reauth_refused", "sign"))
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["reauth_refused", "reauth", "reauth", "sign"]
