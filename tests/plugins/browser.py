"""Browser-test plumbing, registered once for the whole suite: the Chromium to drive, waits
generous enough for a loaded machine, a fixed afternoon, the two screen sizes, and the page steps
the apps' browser tests (``tests/<app>/browser/``) share.

Playwright drives Debian's Chromium (it cannot download its own browser here). ``make test`` runs
``scripts/ensure-chromium`` first: it installs Debian's package, or Playwright's own browser where
apt is not available; a browser named by ``KETACLINIC_CHROMIUM`` wins.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import OperationalError
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, ViewportSize, expect

from ketaclinic.accounts.models import User
from ketaclinic.devdata.demo import DEMO_DOMAIN, DEMO_PASSWORD
from tests.clock import afternoon_clock
from tests.factories import PASSWORD
from tests.factories.accounts import unused_totp_code
from tests.factories.sessions import signed_in_client

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

DEBIAN_CHROMIUM = Path("/usr/bin/chromium")

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}

# Browser tests wait on conditions (a locator, a navigation, an expect()); Playwright caps each
# wait at 30 s (5 s for expect). On a loaded machine a page can take longer than that to arrive,
# which failed the analytics browser test once at load 15-20 on two cores. The cap is raised,
# never replaced by a sleep: a condition met early returns at once.
BROWSER_WAIT_MS = 90_000
expect.set_options(timeout=BROWSER_WAIT_MS)


def chromium_executable() -> str | None:
    """The browser to drive: the named one, Debian's, or None for Playwright's own download."""
    named = os.environ.get("KETACLINIC_CHROMIUM")
    if named:
        return named
    return str(DEBIAN_CHROMIUM) if DEBIAN_CHROMIUM.exists() else None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    args = {**browser_type_launch_args, "args": CHROMIUM_FLAGS}
    executable = chromium_executable()
    if executable:
        args["executable_path"] = executable
    return args


@pytest.fixture(autouse=True)
def _generous_browser_waits(request: pytest.FixtureRequest) -> None:
    if "page" not in request.fixturenames:
        return
    page = request.getfixturevalue("page")
    page.set_default_timeout(BROWSER_WAIT_MS)
    page.set_default_navigation_timeout(BROWSER_WAIT_MS)


@pytest.fixture
def afternoon_in_new_york() -> Iterator[dt.date]:
    """Today at 15:00 in the demo clinic's time zone, for the test and its live server alike,
    the clock ticking from there (``tests.clock.afternoon_clock``); yields that date."""
    for afternoon in afternoon_clock():
        yield afternoon.date()


# --- page steps --------------------------------------------------------------------------------


def submit_sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Fill in the log-in form on the page, and the authenticator app's code when allauth asks
    for it (enrolled users: every staff member of the factories), and wait until the visitor is
    signed in."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign In").click()
    code_field = page.locator("input[name=code]")
    expect(page.get_by_test_id("who").or_(code_field)).to_be_visible()
    if code_field.is_visible():
        user = User.objects.get(email__iexact=email)
        code_field.fill(unused_totp_code(user))
        page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_test_id("who")).to_be_visible()


def sign_in(page: Page, base: str, email: str, password: str = PASSWORD) -> None:
    """Sign in through the real log-in form."""
    page.goto(f"{base}/accounts/login/")
    submit_sign_in(page, email, password)


def sign_in_demo(page: Page, base: str, who: str) -> None:
    """Sign in as a demo clinic user (``physician``, ``nurse``...) with the demo password."""
    sign_in(page, base, f"{who}@{DEMO_DOMAIN}", DEMO_PASSWORD)


def sign_in_by_cookie(page: Page, base: str, user: User, *, minutes_ago: float = 0) -> None:
    """Be ``user`` in the browser without the log-in form (it has its own browser tests): the
    session cookie of a test client that signed them in ``minutes_ago`` (with the records a real
    sign-in leaves, ``tests.factories.sessions``), in place of any earlier one."""
    # The test database is SQLite in memory, shared with the live server's threads: a page
    # still saving its session answers "table is locked" at once where a file database would
    # wait its busy timeout. Wait as that timeout would (a bound, not a measure of speed).
    for attempt in range(50):
        try:
            client = signed_in_client(user, minutes_ago=minutes_ago)
            break
        except OperationalError as exc:
            if "is locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.1)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.clear_cookies()
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": base}]
    )


_OVERFLOW = """() => {
  const root = document.documentElement;
  return root === null ? null : root.scrollWidth > window.innerWidth;
}"""


def no_sideways_scroll(page: Page) -> None:
    """Nothing on the page is wider than the screen.

    Measured once the page in view has loaded: called straight after a click that navigates, the
    old document can be torn down mid-measure (no root element, or the script's context gone), and
    that is a timing of the browser, not a finding about the page, so the measure is taken again.
    """
    overflow: bool | None = None
    for _ in range(5):
        page.wait_for_load_state("load")
        try:
            overflow = page.evaluate(_OVERFLOW)
        except PlaywrightError:
            continue
        if overflow is not None:
            break
    assert overflow is False, page.url
