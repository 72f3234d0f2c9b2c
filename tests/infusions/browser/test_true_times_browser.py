"""Gate 7 (true times) in the browser: vitals typed in minutes after the chart was opened carry
the time they were saved, not the time the page was drawn; the time fields start blank with the
hint "blank = now" and show the whole date and time on a phone and on a desktop.

The clock is fixed at 15:00 in New York and moved forward with time-machine, which patches the
clock of the test and its live server alike."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import Page, expect

from ketaclinic.accounts.models import User
from ketaclinic.audit.services import Actor
from ketaclinic.devdata.demo import DEMO_DOMAIN
from ketaclinic.infusions import services
from ketaclinic.infusions.models import ChartEntry, InfusionSession
from ketaclinic.scheduling.models import Appointment, AppointmentKind
from tests.clock import NEW_YORK
from tests.factories.infusions import GOOD_VITALS, demo_infusion_today
from tests.plugins.browser import DESKTOP, PHONE, sign_in_demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Kept for a person to look at (var/ is the project's own scratch space, not committed).
SHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"


def infusing_now() -> InfusionSession:
    """Eleanor Pratt arrived, checked, drawn and started through the services, just now."""
    now = timezone.now()
    patient, _location = demo_infusion_today(now - dt.timedelta(minutes=5))
    nurse = Actor(user=User.objects.get(email=f"nurse@{DEMO_DOMAIN}"))
    appointment = Appointment.objects.get(
        patient=patient, type__kind=AppointmentKind.INFUSION, infusion_session__isnull=True
    )
    session = services.session_arrive(actor=nurse, appointment_id=appointment.public_id)

    def version() -> int:
        session.refresh_from_db()
        return session.version

    services.precheck_record(
        actor=nurse,
        session_id=session.public_id,
        expected_version=version(),
        taken_at=None,
        vitals=dict(GOOD_VITALS),
        fasting=True,
        escort_arranged=True,
        consent_confirmed=True,
        pain_nrs=6,
        weight_kg=70.0,
    )
    services.controlled_draw_record(
        actor=nurse,
        session_id=session.public_id,
        expected_version=version(),
        lot="KET-1",
        expiry=timezone.localdate() + dt.timedelta(days=200),
        drawn_mg=Decimal("50"),
    )
    services.infusion_start(
        actor=nurse,
        session_id=session.public_id,
        expected_version=version(),
        at=None,
        rate_ml_per_h=Decimal("5.25"),
    )
    session.refresh_from_db()
    return session


@pytest.mark.parametrize(("viewport", "name"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_vitals_typed_minutes_later_carry_the_time_they_were_saved(
    live_server: Any, page: Page, viewport: Any, name: str
) -> None:
    today = timezone.now().astimezone(NEW_YORK).date()
    opened = dt.datetime.combine(today, dt.time(15, 0), tzinfo=NEW_YORK)
    with time_machine.travel(opened, tick=True):
        session = infusing_now()
        page.set_viewport_size(viewport)
        sign_in_demo(page, live_server.url, "nurse")
        page.goto(f"{live_server.url}/infusions/sessions/{session.public_id}/")
        vitals = page.get_by_test_id("vitals-form")
        when = vitals.get_by_label("Time")
        expect(when).to_have_value("")
        expect(vitals.get_by_text("blank = now")).to_be_visible()
        # The whole date and time fit: the field is at least 15.5rem (248 px) wide and inside
        # the page (no sideways scrolling on a phone).
        when.fill(opened.strftime("%Y-%m-%dT%H:%M"))
        box = when.bounding_box()
        assert box is not None
        assert box["width"] >= 248
        assert page.evaluate("document.documentElement.scrollWidth > window.innerWidth") is False
        SHOTS.mkdir(parents=True, exist_ok=True)
        vitals.screenshot(path=str(SHOTS / f"vitals-{name}.png"))
        when.fill("")
        vitals.get_by_label("Systolic BP (mmHg)").fill("130")
        vitals.get_by_label("Diastolic BP (mmHg)").fill("80")
        vitals.get_by_label("Heart rate (/min)").fill("76")
    # Four minutes after the page was drawn, the nurse saves.
    with time_machine.travel(opened + dt.timedelta(minutes=4, seconds=10), tick=False):
        vitals.get_by_role("button", name="Save vitals").click()
        expect(page.locator(".messages")).to_contain_text("Vitals saved")
        entry = ChartEntry.objects.get(session=session, kind="vitals")
        assert entry.taken_at == opened + dt.timedelta(minutes=4)
        row = page.get_by_test_id("vitals-row").last
        expect(row).to_contain_text("15:04")
