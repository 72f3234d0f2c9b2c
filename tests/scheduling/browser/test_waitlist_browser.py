"""A freed time reaches the waitlist in a real browser, on a phone and on a desktop screen.

Alice cancels through her emailed link; the time is offered to Bob, first in line, who opens
the offer but lets the hold run out; the task worker then offers it to Carol, next in line,
who takes it from her email. Bob's link is refused by then.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from playwright.sync_api import Page, ViewportSize, expect

from ketaclinic.audit.services import Actor
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling import services
from ketaclinic.scheduling.models import (
    ActionLink,
    Appointment,
    AppointmentStatus,
    OfferStatus,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistStatus,
)
from tests import factories
from tests.conftest import World
from tests.factories.scheduling import Sched, setup_schedule
from tests.plugins.browser import DESKTOP, PHONE, no_sideways_scroll
from tests.scheduling.browser.mail import invite, link_path, messages_to
from tests.scheduling.helpers import run_due_jobs, some_slots

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OFFER_SUBJECT = "An earlier appointment is free"


def book(sched: Sched, patient: Patient, *, days_ahead: int, index: int) -> Appointment:
    slot = some_slots(sched, days_ahead=days_ahead)[index]
    return services.appointment_book(
        actor=Actor(user=sched.world.front_desk),
        patient=patient,
        location=sched.world.cleveland,
        appointment_type=sched.consultation,
        provider_id=slot.provider_id,
        start=slot.start,
        online=False,
    )


def let_the_hold_run_out(offer: WaitlistOffer) -> None:
    """Move the clock past the hold for this offer: its expiry, its link and its queued job."""
    shift = offer.expires_at - dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    WaitlistOffer.objects.filter(pk=offer.pk).update(expires_at=offer.expires_at - shift)
    ActionLink.objects.filter(offer=offer).update(expires_at=offer.expires_at - shift)
    jobs = DBTaskResult.objects.filter(
        task_path="ketaclinic.scheduling.tasks.waitlist_offer_expire",
        status=TaskResultStatus.READY,
    )
    assert [job.args_kwargs["args"] for job in jobs] == [[offer.pk]]
    jobs.update(run_after=offer.expires_at - shift)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_freed_time_goes_to_the_next_in_line_when_the_first_lets_the_hold_expire(
    live_server: Any, page: Page, world: World, viewport: ViewportSize
) -> None:
    sched = setup_schedule(world)
    carol = factories.make_patient(world.clinic, given="Carol", family="Third")
    early = book(sched, world.alice_patient, days_ahead=3, index=0)
    bobs = book(sched, world.bob_patient, days_ahead=6, index=0)
    carols = book(sched, carol, days_ahead=6, index=3)
    # Bob asks first, then Carol, for an earlier time than the one they hold.
    for appointment in (bobs, carols):
        services.waitlist_join(
            actor=Actor(user=world.front_desk),
            patient=appointment.patient,
            location=world.cleveland,
            appointment_type=sched.consultation,
            appointment=appointment,
        )
    (alice_booked,) = messages_to(world.alice_patient.email, "Your appointment is booked")
    mail.outbox.clear()
    page.set_viewport_size(viewport)

    # Alice cancels from her email.
    page.goto(f"{live_server.url}{link_path(alice_booked, 'cancel')}")
    page.get_by_role("button", name="Yes, cancel it").click()
    expect(page.get_by_role("status")).to_contain_text("Your appointment is cancelled")
    assert Appointment.objects.get(pk=early.pk).status == AppointmentStatus.CANCELLED

    # The worker offers the freed time to Bob alone, held for him.
    run_due_jobs()
    bobs_offer = WaitlistOffer.objects.get()
    assert (bobs_offer.entry.patient, bobs_offer.start, bobs_offer.status) == (
        world.bob_patient,
        early.start,
        OfferStatus.OPEN,
    )
    assert [m.to for m in mail.outbox if OFFER_SUBJECT in m.subject] == [[world.bob_patient.email]]
    (to_bob,) = messages_to(world.bob_patient.email, OFFER_SUBJECT)
    bobs_link = f"{live_server.url}{link_path(to_bob, 'offer')}"
    page.goto(bobs_link)
    expect(page.get_by_role("heading", level=1)).to_have_text("An earlier time is free")
    expect(page.get_by_text("Held for you until")).to_be_visible()
    no_sideways_scroll(page)

    # Bob does not answer; the hold runs out and the worker offers the time to Carol.
    let_the_hold_run_out(bobs_offer)
    run_due_jobs()
    assert WaitlistOffer.objects.get(pk=bobs_offer.pk).status == OfferStatus.EXPIRED
    carols_offer = WaitlistOffer.objects.get(status=OfferStatus.OPEN)
    assert (carols_offer.entry.patient, carols_offer.start) == (carol, early.start)
    (to_carol,) = messages_to(carol.email, OFFER_SUBJECT)

    # Bob's link no longer takes the time.
    page.goto(bobs_link)
    expect(page.get_by_text("This link has expired.")).to_be_visible()
    expect(page.get_by_role("button", name="Take this time")).to_have_count(0)

    # Carol takes it from her email: her appointment moves to the freed time.
    page.goto(f"{live_server.url}{link_path(to_carol, 'offer')}")
    expect(page.get_by_role("heading", level=1)).to_have_text("An earlier time is free")
    page.get_by_role("button", name="Take this time").click()
    expect(page.get_by_role("status")).to_contain_text("The earlier time is yours")
    moved = Appointment.objects.get(pk=carols.pk)
    assert (moved.start, moved.status, moved.sequence) == (early.start, AppointmentStatus.BOOKED, 1)
    assert WaitlistOffer.objects.get(pk=carols_offer.pk).status == OfferStatus.ACCEPTED
    assert WaitlistEntry.objects.get(patient=carol).status == WaitlistStatus.BOOKED
    (confirmation,) = messages_to(carol.email, "Your appointment has moved")
    assert invite(confirmation).walk("VEVENT")[0]["sequence"] == 1
    # Bob keeps his own time and his place on the waitlist.
    assert Appointment.objects.get(pk=bobs.pk).start == bobs.start
    assert WaitlistEntry.objects.get(patient=world.bob_patient).status == WaitlistStatus.WAITING
