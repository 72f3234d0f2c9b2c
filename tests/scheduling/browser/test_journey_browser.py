"""The whole front door in a real browser, on a phone and on a desktop screen.

A new visitor takes the self-check, books a consultation from its result, signs up and verifies
the email, confirms, gets the invite, then moves and cancels the appointment through the links
in the emails. The database is checked at each step.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any
from urllib.parse import urlsplit

import icalendar
import pytest
from playwright.sync_api import Page, ViewportSize, expect

from ketaclinic.accounts.models import User
from ketaclinic.audit.models import AuditEvent
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.models import Appointment, AppointmentStatus
from ketaclinic.screening.models import SelfCheck
from tests.conftest import World
from tests.factories.scheduling import setup_schedule
from tests.plugins.browser import DESKTOP, PHONE, no_sideways_scroll
from tests.scheduling.browser.mail import invite, link_path, messages_to, pick
from tests.scheduling.helpers import some_slots
from tests.screening.browser.steps import complete_self_check

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "nora@example.test"
PASSWORD = "a-long-pass-phrase"


def the_event(cal: icalendar.Calendar) -> Any:
    (event,) = cal.walk("VEVENT")
    return event


def check_start(event: Any, appointment: Appointment) -> None:
    """DTSTART is in the location's own zone (with a VTIMEZONE for it) and is the booked time."""
    zone = appointment.location.time_zone
    assert event["dtstart"].params["TZID"] == zone
    start = event.decoded("dtstart")
    assert start == appointment.start
    assert start.utcoffset() == appointment.start.astimezone(zoneinfo.ZoneInfo(zone)).utcoffset()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_new_visitor_goes_from_self_check_to_booking_then_moves_and_cancels_by_email(
    live_server: Any, page: Page, world: World, viewport: ViewportSize
) -> None:
    sched = setup_schedule(world)
    # More than the 24 h cancel cut-off ahead, so the emailed links may still change it.
    first = some_slots(sched, days_ahead=3)[1]
    second = some_slots(sched, days_ahead=5)[2]
    page.set_viewport_size(viewport)

    # 1. The self-check, from the home page.
    page.goto(f"{live_server.url}/")
    complete_self_check(page)
    selfcheck = SelfCheck.objects.get()
    assert selfcheck.patient_id is None

    # 2. "Book a consultation" from the result: a location, then a time.
    page.get_by_role("link", name="Book a consultation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Book a consultation")
    page.get_by_role("link", name="See times at Cleveland").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a time at Cleveland")
    no_sideways_scroll(page)
    pick(page, first.key)
    page.get_by_role("button", name="Continue").click()

    # 3. A new patient: details, then an account.
    expect(page.get_by_role("heading", level=1)).to_have_text("Almost done")
    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("About you")
    page.get_by_label("Given name").fill("Nora")
    page.get_by_label("Family name").fill("New")
    page.get_by_label("Date of birth").fill("1980-05-06")
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Phone").fill("555-0100")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again):").fill(PASSWORD)
    page.get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Verify")
    user = User.objects.get(email=EMAIL)
    # No patient record until the email is verified (issue 15): only the account.
    assert not Patient.objects.filter(user=user).exists()
    assert Appointment.objects.count() == 0

    # 4. The verification email: open its link, confirm, and come back to the chosen time.
    (verify,) = messages_to(EMAIL, "Confirm")
    url = next(m.group() for m in re.finditer(r"https?://\S+", verify.body) if "confirm" in m[0])
    page.goto(f"{live_server.url}{urlsplit(url).path}")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your booking")
    patient = Patient.objects.get(user=user)
    assert (patient.given_name, patient.clinic, user.role) == ("Nora", world.clinic, "patient")
    # The self-check answers are now part of the new patient's record, audited.
    selfcheck.refresh_from_db()
    assert selfcheck.patient == patient
    assert AuditEvent.objects.filter(
        object_type="selfcheck", object_id=str(selfcheck.public_id), patient=patient
    ).exists()
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My appointments")
    expect(page.get_by_test_id("appointment")).to_have_count(1)
    no_sideways_scroll(page)
    appointment = Appointment.objects.select_related("location").get()
    assert (appointment.patient, appointment.start, appointment.provider_id) == (
        patient,
        first.start,
        first.provider_id,
    )
    assert (appointment.status, appointment.sequence) == (AppointmentStatus.BOOKED, 0)

    # 5. The confirmation email carries a valid invite.
    (booked,) = messages_to(EMAIL, "Your appointment is booked")
    cal = invite(booked)
    event = the_event(cal)
    uid = f"appointment-{appointment.public_id}@ketaclinic"
    assert (str(cal["method"]), str(event["uid"]), event["sequence"]) == ("REQUEST", uid, 0)
    check_start(event, appointment)
    assert event.decoded("dtend") - event.decoded("dtstart") == dt.timedelta(minutes=30)
    assert [str(tz["tzid"]) for tz in cal.walk("VTIMEZONE")] == [appointment.location.time_zone]

    # 6. Move it through the emailed link (no sign-in needed).
    page.goto(f"{live_server.url}{link_path(booked, 'reschedule')}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new time")
    pick(page, second.key)
    page.get_by_role("button", name="Move my appointment").click()
    expect(page.get_by_role("status")).to_contain_text("Your appointment has moved")
    appointment.refresh_from_db()
    assert (appointment.start, appointment.status, appointment.sequence) == (
        second.start,
        AppointmentStatus.BOOKED,
        1,
    )
    (moved,) = messages_to(EMAIL, "Your appointment has moved")
    cal = invite(moved)
    event = the_event(cal)
    assert (str(cal["method"]), str(event["uid"])) == ("REQUEST", uid)
    assert event["sequence"] > 0
    check_start(event, appointment)
    # The first email's links stopped working when the time changed.
    page.goto(f"{live_server.url}{link_path(booked, 'cancel')}")
    expect(page.get_by_text("This link has already been used.")).to_be_visible()
    assert Appointment.objects.get().status == AppointmentStatus.BOOKED

    # 7. Cancel through the link in the newest email.
    page.goto(f"{live_server.url}{link_path(moved, 'cancel')}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Cancel this appointment?")
    no_sideways_scroll(page)
    page.get_by_role("button", name="Yes, cancel it").click()
    expect(page.get_by_role("status")).to_contain_text("Your appointment is cancelled")
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    (cancelled,) = messages_to(EMAIL, "Your appointment is cancelled")
    cal = invite(cancelled)
    event = the_event(cal)
    assert (str(cal["method"]), str(event["uid"]), str(event["status"])) == (
        "CANCEL",
        uid,
        "CANCELLED",
    )
    check_start(event, appointment)
    # Still exactly one self-check, on the patient's record.
    assert list(SelfCheck.objects.values_list("patient_id", flat=True)) == [patient.pk]
