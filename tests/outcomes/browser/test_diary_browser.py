"""A patient records the day's entries through the links in the reminder email, then signs in
and sees the chart, on a phone and on a desktop."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import Page, ViewportSize, expect

from ketaclinic.audit.services import Actor
from ketaclinic.outcomes.diary import services
from ketaclinic.outcomes.models import DiaryEntry, ReminderSchedule
from tests import factories
from tests.clock import today
from tests.conftest import World
from tests.factories.outcomes import infusions, nrs_entries
from tests.factories.patients import registered_since
from tests.factories.scheduling import induction_series
from tests.plugins.browser import DESKTOP, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _history(world: World) -> None:
    """Five infusions three weeks ago, with a week of diary before them and some after."""
    registered_since(world.alice_patient, 60)
    t0 = today() - dt.timedelta(days=21)
    series = induction_series(world, world.alice_patient)
    sessions = [t0 + dt.timedelta(days=n) for n in range(5)]
    infusions(world, world.alice_patient, sessions, series=series)
    values = {t0 - dt.timedelta(days=n): 7 for n in range(1, 8)}
    values.update({t0 + dt.timedelta(days=n): 3 for n in range(5, 12)})
    nrs_entries(world.alice_patient, values)


def _reminder_email(world: World) -> str:
    """The worker's run at reminder time: the email with today's links."""
    services.reminder_schedule_save(
        actor=Actor(user=world.alice),
        patient=world.alice_patient,
        enabled=True,
        time_of_day=dt.time(19, 0),
        daily_nrs=True,
        weekly_peg=True,
        peg_weekday=today().weekday(),
    )
    ReminderSchedule.objects.update(next_due_at=timezone.now() - dt.timedelta(minutes=1))
    mail.outbox.clear()
    assert services.diary_reminders_send() == 1
    (message,) = mail.outbox
    assert message.to == [world.alice_patient.email]
    return str(message.body)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_patient_records_through_the_emailed_links_and_sees_the_chart(
    live_server: Any, page: Page, world: World, viewport: ViewportSize
) -> None:
    _history(world)
    body = _reminder_email(world)
    # Today: the daily score, the weekly PEG, and (the series ended three weeks ago) the PGIC.
    nrs_link, peg_link, pgic_link = (
        re.sub(r"^https?://[^/]+", live_server.url, url)
        for url in re.findall(r"https?://\S+/d/[^/\s]+/", body)
    )
    page.set_viewport_size(viewport)

    page.goto(nrs_link)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Your pain diary for")
    page.get_by_test_id("item-pain").get_by_role("radio", name="4", exact=True).check()
    page.get_by_label("Note (optional)").fill("Slept badly")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, it is saved")

    page.goto(peg_link)
    for key, value in (("pain", "5"), ("enjoyment", "6"), ("general_activity", "4")):
        page.get_by_test_id(f"item-{key}").get_by_role("radio", name=value, exact=True).check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, it is saved")

    page.goto(pgic_link)
    page.get_by_role("radio", name="2 - Much improved").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, it is saved")

    # Each link works once.
    page.goto(nrs_link)
    expect(page.get_by_role("alert")).to_contain_text("already been used")

    page.goto(peg_link)
    expect(page.get_by_role("alert")).to_contain_text("already been used")
    page.get_by_role("link", name="Sign in to your diary").click()
    page.get_by_label("Email").fill("alice@example.test")
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign In").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("My pain diary")
    chart = page.get_by_role("img", name=re.compile("Pain diary chart"))
    expect(chart).to_be_visible()
    expect(chart).to_have_accessible_name(re.compile("15 daily scores, 1 weekly PEG"))
    expect(page.get_by_test_id("response-summary")).to_contain_text("not a diagnosis")
    expect(page.get_by_test_id("response-summary")).to_contain_text("7.0 out of 10")
    expect(page.get_by_test_id("diary-entries")).to_contain_text("Slept badly")
    assert sorted(
        DiaryEntry.objects.filter(entry_date=today()).values_list("instrument", "score", "source")
    ) == [("nrs", 4.0, "link"), ("peg", 5.0, "link"), ("pgic", 2.0, "link")]
    chart_box = chart.bounding_box()
    assert chart_box is not None
    assert chart_box["width"] <= viewport["width"]
    # Every label as shown: its font size in SVG units scaled to the chart's rendered width.
    smallest_px = chart.evaluate(
        "svg => Math.min(...Array.from(svg.querySelectorAll('text')).map(t =>"
        " parseFloat(getComputedStyle(t).fontSize)"
        " * svg.getBoundingClientRect().width / svg.viewBox.baseVal.width))"
    )
    assert smallest_px >= 12
    overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    assert overflow is False
