"""Reading the emails a browser test's visitor receives, and picking a time on a slot page."""

from __future__ import annotations

import re
from email.mime.base import MIMEBase
from typing import Any
from urllib.parse import urlsplit

import icalendar
from django.core import mail
from playwright.sync_api import Page


def messages_to(address: str, subject: str) -> list[Any]:
    return [m for m in mail.outbox if m.to == [address] and subject in m.subject]


def invite(message: Any) -> icalendar.Calendar:
    parts = [a for a in message.attachments if isinstance(a, MIMEBase)]
    assert len(parts) == 1
    assert parts[0].get_content_type() == "text/calendar"
    return icalendar.Calendar.from_ical(parts[0].get_payload(decode=True))


def link_path(message: Any, action: str) -> str:
    """The path of an emailed link (the email names the configured site, not the test server)."""
    for line in message.body.splitlines():
        match = re.search(r"https?://\S+", line)
        if match and "/a/" in match.group() and match.group().rstrip("/").endswith(action):
            return urlsplit(match.group()).path
    raise AssertionError(f"no {action} link in the email")


def pick(page: Page, key: str) -> None:
    # Tap the time's label, as a thumb would.
    page.locator(f'input[name="slot"][value="{key}"]').locator("xpath=..").click()
