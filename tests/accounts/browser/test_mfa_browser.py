"""A new staff member sets up two-step sign-in on a phone and a desktop: sent to it from every
page, turns the authenticator app on with the code it shows, keeps the recovery codes, and signs
in again with a code; a security key (Chromium's virtual authenticator) works on localhost."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import Page, ViewportSize, expect

from ketaclinic.accounts.models import Role
from tests import factories
from tests.conftest import World
from tests.factories.accounts import totp_code, unused_totp_code
from tests.plugins.browser import DESKTOP, PHONE, no_sideways_scroll, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(os.environ.get("KETACLINIC_SHOTS_DIR", tempfile.gettempdir())) / "shots-mfa"


def _shot(page: Page, name: str, viewport: ViewportSize) -> None:
    no_sideways_scroll(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{viewport['width']}.png"), full_page=True)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_new_nurse_sets_up_the_app_and_signs_in_with_its_code(
    live_server: Any, page: Page, world: World, viewport: ViewportSize
) -> None:
    page.set_viewport_size(viewport)
    nurse = factories.make_user(
        world.clinic, Role.NURSE, email="new.nurse@example.test", name="Nell New", mfa=False
    )
    base = live_server.url
    sign_in(page, base, nurse.email)
    # Every page leads to the set-up page first.
    for path in ("/home/", "/staff/patients/", f"/staff/patients/{world.alice_patient.public_id}/"):
        page.goto(f"{base}{path}")
        expect(page.get_by_test_id("mfa-required")).to_be_visible()
    assert page.url == f"{base}/accounts/2fa/"
    _shot(page, "1-required", viewport)

    page.get_by_role("link", name="Set up an authenticator app").click()
    # allauth asks for the password once more before a factor is added.
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Set up an authenticator app")).to_be_visible()
    _shot(page, "2-totp", viewport)
    secret = page.get_by_test_id("totp-secret").inner_text()
    page.get_by_label("Authenticator code").fill(f"{(int(totp_code(secret)) + 1) % 1_000_000:06d}")
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator("#id_code_error")).to_have_text("Authenticator code: Incorrect code.")
    page.get_by_label("Authenticator code").fill(totp_code(secret))
    page.get_by_role("button", name="Turn on").click()

    expect(page.get_by_role("heading", name="Recovery codes")).to_be_visible()
    expect(page.get_by_test_id("recovery-codes").locator("li")).to_have_count(10)
    _shot(page, "3-recovery-codes", viewport)
    page.get_by_role("link", name="I have saved them: continue").click()
    expect(page.get_by_test_id("who")).to_contain_text("Nell New")
    page.goto(f"{base}/staff/patients/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert page.url == f"{base}/staff/patients/"

    page.goto(f"{base}/accounts/2fa/")
    _shot(page, "4-enrolled", viewport)

    # Signing in again asks for the code (the helper waits for a fresh one: the last is used).
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill(nurse.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_label("Code")).to_be_visible()
    _shot(page, "5-code", viewport)
    page.get_by_label("Code").fill(unused_totp_code(nurse))
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_test_id("who")).to_contain_text("Nell New")
    # Once more within the same half-minute: the shared step waits for the app's next code.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, base, nurse.email)
    expect(page.get_by_test_id("who")).to_contain_text("Nell New")


def test_a_security_key_works_on_localhost(live_server: Any, page: Page, world: World) -> None:
    # Chromium's virtual authenticator stands in for a USB key: WebAuthn with the demo's and the
    # tests' http://localhost origin (MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN outside production).
    base = live_server.url.replace("127.0.0.1", "localhost")
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    nurse = factories.make_user(world.clinic, Role.NURSE, name="Kay Key", mfa=False)
    sign_in(page, base, nurse.email)
    expect(page.get_by_test_id("mfa-required")).to_be_visible()
    page.get_by_role("link", name="Add a security key").click()
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    _shot(page, "6-webauthn-add", DESKTOP)
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("heading", name="Recovery codes")).to_be_visible()
    assert Authenticator.objects.filter(user=nurse, type=Authenticator.Type.WEBAUTHN).exists()
    page.goto(f"{base}/staff/patients/")
    assert page.url == f"{base}/staff/patients/"
    # Signing in again: the key instead of a code.
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill(nurse.email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.get_by_role("button", name="Use a security key").click()
    expect(page.get_by_test_id("who")).to_contain_text("Kay Key")
