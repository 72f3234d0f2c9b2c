"""Booking, moving and cancelling: emails, the invite, links, refusals, reminders, waitlist."""

from __future__ import annotations

import datetime as dt
from email.mime.base import MIMEBase
from typing import Any

import icalendar
import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling import services, tasks
from ketaclinic.scheduling.links import LinkError, link_resolve
from ketaclinic.scheduling.models import (
    ActionLink,
    Appointment,
    AppointmentStatus,
    LinkAction,
    OfferStatus,
    PendingSignup,
    SentReminder,
    WaitlistOffer,
)
from tests import factories
from tests.conftest import World
from tests.factories.scheduling import Sched, setup_schedule
from tests.scheduling.helpers import run_due_jobs, snapshot, some_slots

pytestmark = pytest.mark.django_db


@pytest.fixture
def sched(world: World) -> Sched:
    return setup_schedule(world)


def _book(sched: Sched, captured: Any, *, who: str = "alice", index: int = 0) -> Appointment:
    world = sched.world
    slot = some_slots(sched)[index]
    patient = world.alice_patient if who == "alice" else world.bob_patient
    with captured(execute=True):
        return services.appointment_book(
            actor=Actor(user=getattr(world, who)),
            patient=patient,
            location=world.cleveland,
            appointment_type=sched.consultation,
            provider_id=slot.provider_id,
            start=slot.start,
            online=True,
        )


def _ics(message: EmailMessage) -> icalendar.Calendar:
    parts = [a for a in message.attachments if isinstance(a, MIMEBase)]
    assert len(parts) == 1
    assert parts[0].get_content_type() == "text/calendar"
    return icalendar.Calendar.from_ical(parts[0].get_payload(decode=True))


def _token(message: EmailMessage, action: str) -> str:
    marker = "/a/"
    for line in str(message.body).splitlines():
        if marker in line and line.rstrip("/").endswith(action):
            return line.split(marker)[1].split("/")[0]
    raise AssertionError(f"no {action} link in the email")


def test_booking_writes_one_appointment_one_audit_event_and_two_emails(
    sched: Sched, django_capture_on_commit_callbacks: Any
) -> None:
    world = sched.world
    before = AuditEvent.objects.count()
    appointment = _book(sched, django_capture_on_commit_callbacks)
    assert appointment.status == AppointmentStatus.BOOKED
    assert appointment.end - appointment.start == dt.timedelta(minutes=30)
    assert appointment.block_end - appointment.end == dt.timedelta(minutes=15)
    events = list(AuditEvent.objects.filter(object_type="appointment"))
    assert [(e.action, e.object_id, e.patient_id, e.actor_id) for e in events] == [
        ("create", str(appointment.public_id), world.alice_patient.pk, world.alice.pk)
    ]
    assert AuditEvent.objects.count() == before + 1
    assert [m.to for m in mail.outbox] == [[world.alice_patient.email], ["cleveland@clinic.test"]]
    # No patient data in any URL: the links carry only a signed token.
    assert str(world.alice_patient.public_id) not in mail.outbox[0].body
    # Reminders are queued for 48 h and 2 h before the start.
    queued = DBTaskResult.objects.filter(task_path__endswith="appointment_reminder")
    assert sorted(r.run_after for r in queued) == [
        appointment.start - dt.timedelta(hours=48),
        appointment.start - dt.timedelta(hours=2),
    ] or sorted(r.run_after for r in queued) == [appointment.start - dt.timedelta(hours=2)]


def test_the_invite_parses_back_with_a_stable_uid_time_zone_and_sequence(
    sched: Sched, django_capture_on_commit_callbacks: Any
) -> None:
    appointment = _book(sched, django_capture_on_commit_callbacks)
    cal = _ics(mail.outbox[0])
    assert str(cal["METHOD"]) == "REQUEST"
    (event,) = cal.walk("VEVENT")
    uid = str(event["UID"])
    assert uid == f"appointment-{appointment.public_id}@ketaclinic"
    assert event.decoded("DTSTART") == appointment.start
    assert str(event.decoded("DTSTART").tzinfo) == "America/New_York"
    assert event["DTSTART"].params["TZID"] == "America/New_York"
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["America/New_York"]
    assert int(event["SEQUENCE"]) == 0

    new_slot = some_slots(sched, days_ahead=4)[0]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        moved = services.appointment_reschedule(
            actor=Actor(user=sched.world.alice),
            appointment=appointment,
            provider_id=new_slot.provider_id,
            start=new_slot.start,
        )
    (event,) = _ics(mail.outbox[0]).walk("VEVENT")
    assert (str(event["UID"]), int(event["SEQUENCE"])) == (uid, 1)
    assert event.decoded("DTSTART") == moved.start == new_slot.start

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_cancel(actor=Actor(user=sched.world.alice), appointment=moved)
    cal = _ics(mail.outbox[0])
    (event,) = cal.walk("VEVENT")
    assert (str(cal["METHOD"]), str(event["UID"]), int(event["SEQUENCE"])) == ("CANCEL", uid, 2)
    assert str(event["STATUS"]) == "CANCELLED"


def test_refusals_change_nothing(sched: Sched, django_capture_on_commit_callbacks: Any) -> None:
    world = sched.world
    taken = _book(sched, django_capture_on_commit_callbacks)
    state = snapshot()
    n_audit = AuditEvent.objects.count()
    slot = some_slots(sched)[0]
    cases = {
        "past": slot.start - dt.timedelta(days=10),
        "outside availability": slot.start.replace(hour=3),
        "off the grid": slot.start + dt.timedelta(minutes=7),
        "taken": taken.start,
    }
    for label, start in cases.items():
        with pytest.raises(services.SchedulingError) as info:
            services.appointment_book(
                actor=Actor(user=world.bob),
                patient=world.bob_patient,
                location=world.cleveland,
                appointment_type=sched.consultation,
                provider_id=world.physician.pk,
                start=start,
                online=True,
            )
        assert str(info.value), label
    # A provider of another clinic (a tampered slot) and a double submit.
    with pytest.raises(services.SlotUnavailableError):
        services.appointment_book(
            actor=Actor(user=world.bob),
            patient=world.bob_patient,
            location=world.cleveland,
            appointment_type=sched.consultation,
            provider_id=world.other_physician.pk,
            start=slot.start,
            online=True,
        )
    with pytest.raises(services.SchedulingError, match="no longer available"):
        services.appointment_book(
            actor=Actor(user=world.alice),
            patient=world.alice_patient,
            location=world.cleveland,
            appointment_type=sched.consultation,
            provider_id=taken.provider_id,
            start=taken.start,
            online=True,
        )
    assert snapshot() == state
    assert AuditEvent.objects.count() == n_audit


def test_the_loser_is_told_and_offered_the_nearest_times(
    sched: Sched, django_capture_on_commit_callbacks: Any
) -> None:
    taken = _book(sched, django_capture_on_commit_callbacks)
    with pytest.raises(services.SlotUnavailableError) as info:
        services.appointment_book(
            actor=Actor(user=sched.world.bob),
            patient=sched.world.bob_patient,
            location=sched.world.cleveland,
            appointment_type=sched.consultation,
            provider_id=taken.provider_id,
            start=taken.start,
            online=True,
        )
    alternatives = info.value.alternatives
    assert 1 <= len(alternatives) <= 3
    assert taken.start not in [a.start for a in alternatives]
    assert min(abs(a.start - taken.start) for a in alternatives) == dt.timedelta(minutes=45)


def test_patients_cannot_cancel_inside_the_cutoff_but_staff_may_override(
    sched: Sched, django_capture_on_commit_callbacks: Any
) -> None:
    world = sched.world
    appointment = _book(sched, django_capture_on_commit_callbacks)
    late = appointment.start - dt.timedelta(hours=3)
    state = snapshot()
    with pytest.raises(services.SchedulingError, match="24 hours"):
        services.appointment_cancel(
            actor=Actor(user=world.alice), appointment=appointment, now=late
        )
    with pytest.raises(services.SchedulingError, match="Only the clinic"):
        services.appointment_cancel(
            actor=Actor(user=world.alice), appointment=appointment, now=late, override_cutoff=True
        )
    with pytest.raises(services.SchedulingError, match="24 hours"):
        services.appointment_cancel(
            actor=Actor(user=world.front_desk), appointment=appointment, now=late
        )
    assert snapshot() == state
    with django_capture_on_commit_callbacks(execute=True):
        done = services.appointment_cancel(
            actor=Actor(user=world.front_desk),
            appointment=appointment,
            now=late,
            override_cutoff=True,
        )
    assert done.status == AppointmentStatus.CANCELLED
    event = AuditEvent.objects.filter(object_type="appointment", action="update").get()
    assert event.detail == {"change": "cancel", "via_link": False, "override_cutoff": True}
    assert event.actor_id == world.front_desk.pk
    # A second cancel (double submit) is refused and changes nothing.
    state = snapshot()
    with pytest.raises(services.SchedulingError, match="cancelled"):
        services.appointment_cancel(
            actor=Actor(user=world.front_desk), appointment=appointment, override_cutoff=True
        )
    assert snapshot() == state


def test_email_links_work_once_and_refuse_tampering(
    sched: Sched, django_capture_on_commit_callbacks: Any, client: Client
) -> None:
    appointment = _book(sched, django_capture_on_commit_callbacks)
    token = _token(mail.outbox[0], "cancel")
    url = reverse("scheduling:link_cancel", args=[token])
    assert client.get(url).status_code == 200
    tampered = reverse("scheduling:link_cancel", args=[token[:-2] + "xx"])
    response = client.post(tampered)
    assert response.status_code == 400
    assert "not valid" in response.content.decode()
    # A cancel token does not open the reschedule page.
    assert client.get(reverse("scheduling:link_reschedule", args=[token])).status_code == 400
    assert Appointment.objects.get(pk=appointment.pk).status == AppointmentStatus.BOOKED
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"confirmed": "1"})
    assert response.status_code == 200
    assert Appointment.objects.get(pk=appointment.pk).status == AppointmentStatus.CANCELLED
    event = AuditEvent.objects.get(object_type="appointment", action="update")
    assert (event.actor_id, event.detail["via_link"]) == (None, True)
    state = snapshot()
    response = client.post(url)
    assert response.status_code == 400
    assert "already been used" in response.content.decode()
    assert snapshot() == state


def test_expired_links_are_refused(
    sched: Sched, django_capture_on_commit_callbacks: Any, client: Client
) -> None:
    appointment = _book(sched, django_capture_on_commit_callbacks)
    token = _token(mail.outbox[0], "reschedule")
    ActionLink.objects.filter(appointment=appointment).update(
        expires_at=appointment.start - dt.timedelta(days=30)
    )
    with pytest.raises(LinkError, match="expired"):
        link_resolve(token, action=LinkAction.RESCHEDULE)
    state = snapshot()
    slot = some_slots(sched, days_ahead=5)[0]
    response = client.post(reverse("scheduling:link_reschedule", args=[token]), {"slot": slot.key})
    assert response.status_code == 400
    assert snapshot() == state


def test_rescheduling_through_the_link_moves_and_retires_old_links(
    sched: Sched, django_capture_on_commit_callbacks: Any, client: Client
) -> None:
    appointment = _book(sched, django_capture_on_commit_callbacks)
    token = _token(mail.outbox[0], "reschedule")
    cancel_token = _token(mail.outbox[0], "cancel")
    slot = some_slots(sched, days_ahead=5)[2]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("scheduling:link_reschedule", args=[token]), {"slot": slot.key}
        )
    assert response.status_code == 200
    moved = Appointment.objects.get(pk=appointment.pk)
    assert (moved.start, moved.sequence, moved.version) == (slot.start, 1, 2)
    assert "moved" in mail.outbox[0].subject
    # The old cancel link died with the old time; the new email carries fresh ones.
    assert client.post(reverse("scheduling:link_cancel", args=[cancel_token])).status_code == 400
    assert Appointment.objects.get(pk=appointment.pk).status == AppointmentStatus.BOOKED


def test_another_patients_appointment_is_not_found(
    sched: Sched, django_capture_on_commit_callbacks: Any, client_for: Any
) -> None:
    appointment = _book(sched, django_capture_on_commit_callbacks)
    state = snapshot()
    bob = client_for("bob")
    for name in ("my_appointment_cancel", "my_appointment_reschedule", "my_waitlist_join"):
        url = reverse(f"scheduling:{name}", kwargs={"public_id": appointment.public_id})
        assert bob.post(url, {"slot": some_slots(sched)[3].key}).status_code == 404
    assert snapshot() == state


def test_a_tampered_slot_in_the_booking_form_books_nothing(sched: Sched, client_for: Any) -> None:
    alice = client_for("alice")
    url = reverse("scheduling:book_slots", args=[sched.world.cleveland.pk])
    slot = some_slots(sched)[0]
    for bad in (
        "garbage",
        f"{slot.provider_id}.{int(slot.start.timestamp()) + 60}",
        f"{sched.world.other_physician.pk}.{int(slot.start.timestamp())}",
    ):
        response = alice.post(url, {"slot": bad})
        if response.status_code == 302:
            response = alice.post(reverse("scheduling:book_confirm"), follow=True)
        assert Appointment.objects.count() == 0, bad
        assert response.status_code == 200


def test_booking_through_the_pages_as_a_signed_in_patient(
    sched: Sched, client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    alice = client_for("alice")
    slot = some_slots(sched)[1]
    page = alice.get(reverse("scheduling:book_slots", args=[sched.world.cleveland.pk]))
    assert slot.key in page.content.decode()
    alice.post(
        reverse("scheduling:book_slots", args=[sched.world.cleveland.pk]), {"slot": slot.key}
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(reverse("scheduling:book_confirm"))
    assert response.status_code == 302
    assert Appointment.objects.get().start == slot.start
    # A second submit of the same form finds no pending choice and books nothing more.
    alice.post(reverse("scheduling:book_confirm"))
    assert Appointment.objects.count() == 1


def test_a_reminder_is_sent_once_even_if_the_job_runs_twice(
    sched: Sched, django_capture_on_commit_callbacks: Any
) -> None:
    appointment = _book(sched, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    start = appointment.start.isoformat()
    assert tasks.appointment_reminder.call(appointment.pk, "48h", start) == "sent"
    assert tasks.appointment_reminder.call(appointment.pk, "48h", start) == "skipped: already sent"
    assert len(mail.outbox) == 1
    assert SentReminder.objects.count() == 1
    # A job for the old time of a moved appointment, or for a cancelled one, sends nothing.
    old = (appointment.start - dt.timedelta(days=1)).isoformat()
    assert tasks.appointment_reminder.call(appointment.pk, "2h", old) == "skipped: moved"
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_cancel(actor=Actor(user=sched.world.alice), appointment=appointment)
    assert tasks.appointment_reminder.call(appointment.pk, "2h", start) == "skipped: not booked"


# The real worker runs the offer job; it closes a connection left outside autocommit (as a test
# transaction is), so this test commits for real.
@pytest.mark.django_db(transaction=True)
def test_a_freed_slot_goes_to_the_first_in_line_then_to_the_next(
    sched: Sched, django_capture_on_commit_callbacks: Any, client: Client
) -> None:
    world = sched.world
    early = _book(sched, django_capture_on_commit_callbacks, who="alice", index=0)
    # Alice and Bob both hold later appointments and ask for earlier ones.
    carol = factories.make_patient(world.clinic, given="Carol", family="Third")
    later = [
        _book(sched, django_capture_on_commit_callbacks, who="bob", index=4),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        later.append(
            services.appointment_book(
                actor=Actor(user=world.front_desk),
                patient=carol,
                location=world.cleveland,
                appointment_type=sched.consultation,
                provider_id=world.physician.pk,
                start=some_slots(sched)[5].start,
                online=False,
            )
        )
    for appointment in later:
        services.waitlist_join(
            actor=Actor(user=world.front_desk),
            patient=appointment.patient,
            location=world.cleveland,
            appointment_type=sched.consultation,
            appointment=appointment,
        )
    with pytest.raises(services.SchedulingError, match="already on the waitlist"):
        services.waitlist_join(
            actor=Actor(user=world.bob),
            patient=world.bob_patient,
            location=world.cleveland,
            appointment_type=sched.consultation,
            appointment=later[0],
        )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_cancel(actor=Actor(user=world.alice), appointment=early)
    # The cancel queues the freed slot's offer; the worker makes it.
    assert not WaitlistOffer.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        run_due_jobs()
    offer = WaitlistOffer.objects.get()
    assert (offer.entry.patient, offer.start, offer.status) == (
        world.bob_patient,
        early.start,
        "open",
    )
    offer_mail = [m for m in mail.outbox if "earlier" in m.subject]
    assert [m.to for m in offer_mail] == [[world.bob_patient.email]]
    assert DBTaskResult.objects.filter(task_path__endswith="waitlist_offer_expire").count() == 1
    # While held, the slot is not offered to anyone else.
    assert early.start not in [s.start for s in some_slots(sched)]
    # Bob does not answer in time: Carol is next.
    with django_capture_on_commit_callbacks(execute=True):
        services.waitlist_offer_expire(
            offer_id=offer.pk, now=offer.expires_at + dt.timedelta(seconds=1)
        )
    second = WaitlistOffer.objects.get(status=OfferStatus.OPEN)
    assert second.entry.patient == carol
    token = _token_offer(mail.outbox[-1])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("scheduling:link_waitlist", args=[token]), {"confirmed": "1"}
        )
    assert response.status_code == 200, response.content
    moved = Appointment.objects.get(pk=later[1].pk)
    assert (moved.start, moved.sequence) == (early.start, 1)
    # Bob's stale link now fails, with a clear message.
    assert WaitlistOffer.objects.get(pk=offer.pk).status == OfferStatus.EXPIRED


def _token_offer(message: EmailMessage) -> str:
    for line in str(message.body).splitlines():
        if "/a/" in line and "/offer/" in line:
            return line.split("/a/")[1].split("/")[0]
    raise AssertionError("no offer link")


def test_a_new_visitor_signs_up_while_booking_and_confirms_after_verifying(
    sched: Sched, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    from allauth.account.models import EmailAddress

    from ketaclinic.accounts.models import User

    # Outside the booking flow sign-up stays closed.
    assert b"New patients: book your first visit" in client.get(reverse("account_signup")).content
    slot = some_slots(sched)[2]
    client.post(
        reverse("scheduling:book_slots", args=[sched.world.cleveland.pk]), {"slot": slot.key}
    )
    assert client.get(reverse("scheduling:book_confirm")).status_code == 200
    response = client.post(
        reverse("scheduling:book_details"),
        {
            "given_name": "Nora",
            "family_name": "New",
            "date_of_birth": "1980-05-06",
            "sex": "female",
            "phone": "555-0100",
        },
    )
    assert response.status_code == 302
    mail.outbox.clear()
    response = client.post(
        reverse("account_signup"),
        {
            "email": "nora@example.test",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="nora@example.test")
    assert (user.role, user.clinic_id) == ("patient", sched.world.clinic.pk)
    assert not EmailAddress.objects.get(user=user).verified
    # No patient record until the address is verified: the details wait in a pending sign-up.
    assert not Patient.objects.filter(user=user).exists()
    assert PendingSignup.objects.get(user=user).details["given_name"] == "Nora"
    assert Appointment.objects.count() == 0
    key_url = next(line for line in mail.outbox[0].body.splitlines() if "/confirm-email/" in line)
    response = client.post(key_url.strip().split("testserver")[-1])
    assert response.status_code == 302
    assert response["Location"] == "/book/confirm/"
    user.refresh_from_db()
    assert (user.patient.given_name, user.patient.home_location) == ("Nora", sched.world.cleveland)
    assert not PendingSignup.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/book/confirm/")
    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert (appointment.patient, appointment.start) == (user.patient, slot.start)
