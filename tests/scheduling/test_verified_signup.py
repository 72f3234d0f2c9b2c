"""A visitor who signs up while booking becomes a patient only once the email is verified
(issue 15 item 10): what they entered waits in a pending sign-up, used once, purged otherwise."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ketaclinic.accounts.models import User
from ketaclinic.audit.models import AuditEvent
from ketaclinic.lib.tasks import ALREADY_RUN, PERIODIC_JOBS
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling import services, tasks
from ketaclinic.scheduling.models import Appointment, PendingSignup
from tests.conftest import World
from tests.factories.scheduling import Sched, setup_schedule
from tests.scheduling.helpers import some_slots

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-pass-phrase"
DETAILS = {
    "given_name": "Nora",
    "family_name": "New",
    "date_of_birth": "1980-05-06",
    "sex": "female",
    "phone": "555-0100",
}


@pytest.fixture
def sched(world: World) -> Sched:
    return setup_schedule(world)


def _sign_up(client: Client, sched: Sched, email: str, index: int = 2) -> Any:
    slot = some_slots(sched)[index]
    client.post(
        reverse("scheduling:book_slots", args=[sched.world.cleveland.pk]), {"slot": slot.key}
    )
    client.post(reverse("scheduling:book_details"), DETAILS)
    mail.outbox.clear()
    response = client.post(
        reverse("account_signup"), {"email": email, "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302, response.content
    return slot


def _verification_path() -> str:
    line = next(x for x in mail.outbox[0].body.splitlines() if "/confirm-email/" in x)
    return line.strip().split("testserver")[-1]


def test_an_unverified_sign_up_leaves_no_patient(sched: Sched, client: Client) -> None:
    patients = Patient.objects.count()
    _sign_up(client, sched, "nora@example.test")
    user = User.objects.get(email="nora@example.test")
    assert Patient.objects.count() == patients
    pending = PendingSignup.objects.get(user=user)
    assert (pending.details, pending.location) == (DETAILS, sched.world.cleveland)
    event = AuditEvent.objects.get(object_type="pending_signup")
    assert (event.action, event.actor_id, event.patient_id) == ("create", user.pk, None)
    # The unverified account cannot sign in (allauth sends the verification again instead).
    other = Client()
    other.post(reverse("account_login"), {"login": "nora@example.test", "password": PASSWORD})
    assert other.get("/home/").status_code == 302
    assert Patient.objects.count() == patients


def test_verifying_in_another_browser_makes_the_patient_and_the_booking_continues(
    sched: Sched, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    slot = _sign_up(client, sched, "nora@example.test")
    user = User.objects.get(email="nora@example.test")
    phone = Client()  # the mail app's browser: its session holds nothing of the booking
    response = phone.post(_verification_path())
    assert response.status_code == 302
    patient = Patient.objects.get(user=user)
    assert (patient.given_name, patient.family_name, patient.date_of_birth) == (
        "Nora",
        "New",
        dt.date(1980, 5, 6),
    )
    assert (patient.clinic, patient.home_location, patient.email) == (
        sched.world.clinic,
        sched.world.cleveland,
        "nora@example.test",
    )
    assert not PendingSignup.objects.exists()  # used once, then gone
    created = AuditEvent.objects.filter(patient=patient, action="create")
    assert created.count() == 1
    # Signing in there leads back to the chosen time, and the booking goes through.
    response = phone.post(
        reverse("account_login"), {"login": "nora@example.test", "password": PASSWORD}
    )
    assert response["Location"] == "/book/confirm/"
    with django_capture_on_commit_callbacks(execute=True):
        assert phone.post("/book/confirm/").status_code == 302
    appointment = Appointment.objects.get()
    assert (appointment.patient, appointment.start) == (patient, slot.start)


def test_verifying_again_makes_no_second_patient(sched: Sched, client: Client) -> None:
    _sign_up(client, sched, "nora@example.test")
    path = _verification_path()
    assert client.post(path).status_code == 302
    user = User.objects.get(email="nora@example.test")
    patient = Patient.objects.get(user=user)
    writes = list(AuditEvent.objects.exclude(action__in=["read", "login"]).values_list("id"))
    Client().post(path)
    assert services.booking_signup_complete(user=user) is None
    assert list(Patient.objects.filter(user=user)) == [patient]
    assert list(AuditEvent.objects.exclude(action__in=["read", "login"]).values_list("id")) == (
        writes
    )


def test_unverified_details_are_purged_after_the_retention(sched: Sched) -> None:
    _sign_up(Client(), sched, "old@example.test", index=1)
    _sign_up(Client(), sched, "new@example.test", index=3)
    old = PendingSignup.objects.get(user__email="old@example.test")
    PendingSignup.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - services.SIGNUP_RETENTION - dt.timedelta(hours=1)
    )
    assert "ketaclinic.scheduling.tasks.booking_signup_purge" in PERIODIC_JOBS
    assert tasks.booking_signup_purge.call() == "deleted 1"
    assert list(PendingSignup.objects.values_list("user__email", flat=True)) == ["new@example.test"]
    event = AuditEvent.objects.get(object_type="pending_signup_purge")
    assert (event.action, event.actor_id, event.detail) == ("delete", None, {"deleted": 1})
    # Idempotent: nothing more to delete, nothing more recorded.
    assert services.booking_signups_purge() == 0
    # And the job itself runs once a day, whoever runs it: a second run does nothing.
    assert tasks.booking_signup_purge.call() == ALREADY_RUN
    assert AuditEvent.objects.filter(object_type="pending_signup_purge").count() == 1
    # Verified after the purge: the account works, but there is no record to make.
    assert not Patient.objects.filter(user__email="old@example.test").exists()
