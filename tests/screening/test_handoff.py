"""The visitor's self-check reaches the new patient's record, whichever browser verifies."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from ketaclinic.accounts.models import User
from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.models import Appointment
from ketaclinic.screening.models import SelfCheck
from ketaclinic.screening.selectors import SESSION_ANSWERS, SESSION_RESULT
from ketaclinic.screening.services import selfcheck_attach, selfcheck_submit
from tests import factories
from tests.conftest import World
from tests.factories.scheduling import Sched, setup_schedule
from tests.scheduling.helpers import some_slots
from tests.screening.helpers import answers, positive_data, walk

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-pass-phrase"


@pytest.fixture
def sched(world: World) -> Sched:
    return setup_schedule(world)


def choose_a_time_and_sign_up(client: Client, sched: Sched, email: str) -> Any:
    slot = some_slots(sched)[2]
    client.post(
        reverse("scheduling:book_slots", args=[sched.world.cleveland.pk]), {"slot": slot.key}
    )
    client.post(
        reverse("scheduling:book_details"),
        {
            "given_name": "Nora",
            "family_name": "New",
            "date_of_birth": "1980-05-06",
            "sex": "female",
            "phone": "555-0100",
        },
    )
    mail.outbox.clear()
    response = client.post(
        reverse("account_signup"),
        {"email": email, "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302, response.content
    return slot


def verification_path() -> str:
    line = next(x for x in mail.outbox[0].body.splitlines() if "/confirm-email/" in x)
    return line.strip().split("testserver")[-1]


def test_verifying_in_another_browser_keeps_the_self_check(
    sched: Sched, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    walk(client, positive_data())
    selfcheck = SelfCheck.objects.get()
    choose_a_time_and_sign_up(client, sched, "nora@example.test")
    user = User.objects.get(email="nora@example.test")
    # No record until the email is verified: the sign-up keeps the self-check's id meanwhile.
    selfcheck.refresh_from_db()
    assert selfcheck.patient_id is None
    assert not Patient.objects.filter(user=user).exists()
    # That browser keeps no copy of the answers: the sign-up holds the self-check's id.
    assert SESSION_RESULT not in client.session
    assert SESSION_ANSWERS not in client.session

    # The email is opened on another device: a browser with an empty session.
    phone = Client()
    path = verification_path()
    with django_capture_on_commit_callbacks(execute=True):
        response = phone.post(path)
    assert response.status_code == 302
    # Attached once the record exists, by the new patient, though that browser never held it.
    user.refresh_from_db()
    selfcheck.refresh_from_db()
    assert selfcheck.patient == user.patient
    event = AuditEvent.objects.get(object_type="selfcheck", object_id=str(selfcheck.public_id))
    assert (event.actor_id, event.patient_id, event.action) == (user.pk, user.patient.pk, "update")
    # The chosen time waits in the verifying browser, so signing in there leads back to it.
    assert response["Location"] == "/book/confirm/"
    response = phone.post(
        reverse("account_login"), {"login": "nora@example.test", "password": PASSWORD}
    )
    assert response.status_code == 302
    # Booking again from there, the self-check is still the patient's, and only once.
    slot = some_slots(sched)[4]
    phone.post(
        reverse("scheduling:book_slots", args=[sched.world.cleveland.pk]), {"slot": slot.key}
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert phone.post(reverse("scheduling:book_confirm")).status_code == 302
    assert Appointment.objects.get().patient == user.patient
    assert list(user.patient.selfchecks.all()) == [selfcheck]
    assert AuditEvent.objects.filter(object_type="selfcheck", action="update").count() == 1


def test_signing_up_without_a_self_check_attaches_nothing(
    sched: Sched, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    other = selfcheck_submit(answers=answers())
    choose_a_time_and_sign_up(client, sched, "nobody@example.test")
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(verification_path()).status_code == 302
    user = User.objects.get(email="nobody@example.test")
    assert not user.patient.selfchecks.exists()
    other.refresh_from_db()
    assert other.patient_id is None
    assert not AuditEvent.objects.filter(object_type="selfcheck").exists()


def test_a_patient_who_signs_in_instead_gets_it_attached_on_booking(
    sched: Sched, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    walk(client, positive_data())
    selfcheck = SelfCheck.objects.get()
    slot = some_slots(sched)[1]
    client.post(
        reverse("scheduling:book_slots", args=[sched.world.cleveland.pk]), {"slot": slot.key}
    )
    response = client.post(
        reverse("account_login"),
        {"login": sched.world.alice.email, "password": factories.PASSWORD},
    )
    assert response.status_code == 302
    assert SelfCheck.objects.get().patient_id is None  # signing in alone attaches nothing
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("scheduling:book_confirm")).status_code == 302
    selfcheck.refresh_from_db()
    assert selfcheck.patient == sched.world.alice_patient
    assert SESSION_RESULT not in client.session


def test_a_self_check_attached_elsewhere_does_not_block_the_booking(
    sched: Sched, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    # The session points at a self-check that meanwhile belongs to someone else (say, the
    # same shared computer): the booking goes through and the self-check is left alone.
    walk(client, positive_data())
    selfcheck = SelfCheck.objects.get()
    client.force_login(sched.world.alice)
    slot = some_slots(sched)[1]
    client.post(
        reverse("scheduling:book_slots", args=[sched.world.cleveland.pk]), {"slot": slot.key}
    )
    selfcheck_attach(
        actor=Actor(user=sched.world.bob), selfcheck=selfcheck, patient=sched.world.bob_patient
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("scheduling:book_confirm")).status_code == 302
    assert Appointment.objects.get().patient == sched.world.alice_patient
    selfcheck.refresh_from_db()
    assert selfcheck.patient == sched.world.bob_patient


def test_a_self_check_taken_between_read_and_attach_is_left_alone(
    world: World, monkeypatch: pytest.MonkeyPatch, rf: Any
) -> None:
    from ketaclinic.screening import handoff

    stale = selfcheck_submit(answers=answers())
    selfcheck_attach(actor=Actor(user=world.bob), selfcheck=stale, patient=world.bob_patient)
    # The session's read saw it still anonymous; another request attached it just after.
    stale_copy = SelfCheck.objects.get(pk=stale.pk)
    stale_copy.patient = None
    monkeypatch.setattr(handoff, "selfcheck_from_session", lambda request: stale_copy)
    request = rf.get("/")
    request.session = {SESSION_RESULT: str(stale.public_id)}
    attached = handoff.attach_from_session(
        request, actor=Actor(user=world.alice), patient=world.alice_patient
    )
    assert attached is False
    assert SelfCheck.objects.get(pk=stale.pk).patient == world.bob_patient
    assert request.session == {SESSION_RESULT: str(stale.public_id)}
