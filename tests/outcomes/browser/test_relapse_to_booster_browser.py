"""From a relapse in synthetic data to a booked booster, in a real browser: the seeder writes a
few patients' histories into the demo clinic, the task worker's booster refresh flags a relapse,
the physician sees it in the queue (relapse date, baseline, 7-day window means) and approves;
the patient follows the emailed link, signs in, picks a time and sees the booked booster.

The relapse comes from the seeded diary, not from rows written for this test: for a given end
date the seeder draws the same histories, and at this size one patient relapses after the
series whatever the weekday the suite runs on. The clock is moved to mid-afternoon in New York
(and keeps ticking), so the date cannot roll over between seeding and booking.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core import mail
from playwright.sync_api import Page, ViewportSize, expect

from ketaclinic.accounts.models import Role
from ketaclinic.audit.models import Action, AuditEvent
from ketaclinic.clinical import outcomes as clinical_outcomes
from ketaclinic.devdata.demo import DEMO_DOMAIN, load_demo
from ketaclinic.devdata.seeding import seed_clinic
from ketaclinic.outcomes.boosters.services import BOOSTER_TYPE_NAME
from ketaclinic.outcomes.boosters.tasks import booster_suggestions_refresh_all
from ketaclinic.outcomes.models import BoosterStatus, BoosterSuggestion, DiaryEntry
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.models import Appointment, AppointmentStatus
from ketaclinic.scheduling.slots import parse_slot_key
from tests import factories
from tests.clock import NEW_YORK
from tests.plugins.browser import DESKTOP, PHONE, sign_in_demo, submit_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SEED = 7
SEED_PATIENTS = 6
OFFER_SUBJECT = "offers a booster appointment"


def flagged_seed_patient(today: dt.date) -> tuple[Patient, BoosterSuggestion]:
    """Seed the demo clinic, run the worker's refresh, and take the first flagged patient."""
    clinic = load_demo()
    seed_clinic(clinic=clinic, patients=SEED_PATIENTS, years=1.0, seed=SEED, today=today)
    assert not BoosterSuggestion.objects.exists()
    result = booster_suggestions_refresh_all.call()
    created = re.match(r"created (\d+)", result)
    assert created is not None, result
    assert int(created.group(1)) == BoosterSuggestion.objects.count() >= 1
    # The queue's order: oldest relapse first.
    suggestion = (
        BoosterSuggestion.objects.select_related("patient").order_by("relapse_date", "pk").first()
    )
    assert suggestion is not None
    patient = suggestion.patient
    assert patient.mrn.startswith(f"S{SEED}-")
    assert suggestion.status == BoosterStatus.OPEN
    # The flag is durability's relapse on the seeded diary (nothing in it was written here).
    diary = list(
        DiaryEntry.objects.filter(patient=patient, instrument="nrs")
        .order_by("entry_date")
        .values_list("entry_date", "score")
    )
    assert diary
    found = clinical_outcomes.durability(
        baseline=suggestion.baseline, entries=diary, series_end=suggestion.series_end
    )
    assert found.relapse_date == suggestion.relapse_date
    assert suggestion.series_end < suggestion.relapse_date < today
    assert suggestion.window_means
    assert all(m > 0.7 * suggestion.baseline for m in suggestion.window_means.values())
    return patient, suggestion


def portal_login_for(patient: Patient) -> str:
    """Seeded patients have no portal account; this one has signed up (as demo Alice has)."""
    user = factories.make_user(
        patient.clinic, Role.PATIENT, email=patient.email, name=patient.full_name
    )
    Patient.objects.filter(pk=patient.pk).update(user=user)
    return patient.email


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_physician_approves_a_booster_for_a_seeded_relapse_and_the_patient_books_it(
    live_server: Any, page: Page, afternoon_in_new_york: dt.date, viewport: ViewportSize
) -> None:
    patient, suggestion = flagged_seed_patient(afternoon_in_new_york)
    email = portal_login_for(patient)
    others_open = BoosterSuggestion.objects.filter(status=BoosterStatus.OPEN).count() - 1
    page.set_viewport_size(viewport)
    base = live_server.url

    # The physician's queue flags the relapse with the numbers behind it.
    sign_in_demo(page, base, "physician")
    page.goto(f"{base}/staff/boosters/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Booster suggestions")
    rows = page.get_by_test_id("booster-row")
    expect(rows).to_have_count(others_open + 1)
    row = rows.filter(has=page.locator(f'a[href="/staff/boosters/{suggestion.public_id}/"]'))
    expect(row).to_contain_text(patient.full_name)
    expect(row).to_contain_text(f"{suggestion.series_end:%-d %b %Y}")
    expect(row).to_contain_text(f"{suggestion.relapse_date:%-d %b %Y}")
    expect(row).to_contain_text(f"{suggestion.baseline:.1f}")
    means = ", ".join(f"{m:.1f}" for m in suggestion.window_means.values())
    expect(row).to_contain_text(means)

    row.get_by_role("link", name="Decide").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Booster suggestion · {patient.full_name}"
    )
    expect(page.get_by_test_id("booster-status")).to_have_text("Waiting for a physician")
    first_day = next(iter(suggestion.window_means))
    expect(page.locator("dl.facts")).to_contain_text(
        f"{first_day}: {suggestion.window_means[first_day]:.1f}"
    )
    mail.outbox.clear()
    page.get_by_role("button", name="Approve and offer times").click()
    expect(page.get_by_role("status")).to_contain_text("Booster approved")
    expect(page.get_by_test_id("booster-row")).to_have_count(others_open)
    expect(page.locator(f'a[href="/staff/boosters/{suggestion.public_id}/"]')).to_have_count(0)
    suggestion.refresh_from_db()
    assert suggestion.status == BoosterStatus.APPROVED
    assert suggestion.appointment_type is not None
    assert suggestion.appointment_type.name == BOOSTER_TYPE_NAME

    # The offer reaches the patient by email (after the approval committed).
    (offer,) = [m for m in mail.outbox if OFFER_SUBJECT in m.subject]
    assert offer.to == [patient.email]
    (url,) = re.findall(r"https?://\S+/me/boosters/\S+/", str(offer.body))
    offer_path = urlsplit(url).path
    assert offer_path == f"/me/boosters/{suggestion.public_id}/"
    page.get_by_role("button", name="Sign out").click()

    # The link asks the patient to sign in, then opens the offer with free times.
    page.goto(f"{base}{offer_path}")
    submit_sign_in(page, email)
    expect(page).to_have_url(f"{base}{offer_path}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Booster appointment")
    first = page.locator('input[name="slot"]').first
    expect(first).to_be_attached()
    key = first.get_attribute("value")
    assert key is not None
    parsed = parse_slot_key(key)
    assert parsed is not None
    provider_id, start = parsed
    first.locator("xpath=..").click()  # the time's label, as a thumb would tap it
    expect(first).to_be_checked()
    page.get_by_role("button", name="Book this time").click()

    local = start.astimezone(NEW_YORK)
    # In the location's zone, the zone named: in words on the booster page, short on the list.
    hour = f"{local.hour % 12 or 12}:{local:%M %p} {local.tzname()}"
    when = f"{local:%A} {local.day} {local:%B %Y}, {hour}"
    listed = f"{local:%a} {local.day} {local:%b %Y}, {hour}"
    expect(page.get_by_role("status")).to_contain_text("Your booster appointment is booked")
    expect(page.get_by_test_id("booster-booked")).to_contain_text(when)
    suggestion.refresh_from_db()
    assert suggestion.status == BoosterStatus.BOOKED
    assert suggestion.appointment_id is not None
    booked = Appointment.objects.select_related("type").get(pk=suggestion.appointment_id)
    assert (booked.patient_id, booked.provider_id, booked.start) == (
        patient.pk,
        provider_id,
        start,
    )
    assert booked.type.name == BOOSTER_TYPE_NAME
    assert booked.status == AppointmentStatus.BOOKED
    assert booked.location_id == patient.home_location_id

    # Every step is in the audit trail, by the right person.
    decisions = AuditEvent.objects.filter(
        object_type="booster_suggestion", object_id=str(suggestion.public_id)
    ).exclude(action=Action.READ)
    assert list(decisions.order_by("pk").values_list("action", "actor__email")) == [
        (Action.CREATE, None),
        (Action.SIGN, f"physician@{DEMO_DOMAIN}"),
        (Action.UPDATE, email),
    ]
    assert decisions.get(action=Action.SIGN).detail["decision"] == "approved"
    assert decisions.get(action=Action.UPDATE).detail == {"booked": str(booked.public_id)}

    # The patient's appointments list the booster; the diary no longer offers it.
    page.goto(f"{base}/me/appointments/")
    card = page.get_by_test_id("appointment").filter(has_text=BOOSTER_TYPE_NAME)
    expect(card).to_have_count(1)
    expect(card).to_contain_text(listed)
    page.goto(f"{base}/me/diary/")
    expect(page.get_by_role("heading", level=1)).to_have_text("My pain diary")
    expect(page.get_by_test_id("booster-offer")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
