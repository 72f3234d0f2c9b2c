"""The reminder's delivery guarantee, on its own (``scheduling/tasks.py`` ``appointment_reminder``):
the record of a sent reminder commits with the send, so a run that failed to send leaves nothing
marked, and every send of one reminder carries the same Message-ID. The kill of a real worker
mid-run is ``test_multinode.py``'s; these run on either database."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.test import override_settings
from django.utils import timezone

from ketaclinic.audit.models import AuditEvent
from ketaclinic.scheduling import emails, tasks
from ketaclinic.scheduling.models import Appointment, SentReminder
from tests.factories.scheduling import consultation_appointment, setup_schedule
from tests.factories.world import World


@pytest.fixture
def appointment(world: World) -> Appointment:
    sched = setup_schedule(world)
    start = (timezone.now() + dt.timedelta(days=3)).replace(second=0, microsecond=0)
    return consultation_appointment(sched, world.alice_patient, start)


def _reminder_events() -> int:
    return AuditEvent.objects.filter(object_type="appointment_reminder").count()


@override_settings(SITE_URL="https://clinic.example.org")
def test_every_send_of_a_reminder_carries_the_same_message_id(appointment: Appointment) -> None:
    start = appointment.start.isoformat()
    assert tasks.appointment_reminder.call(appointment.pk, "48h", start) == "sent"
    (sent,) = mail.outbox
    at = appointment.start.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    expected = f"<reminder.48h.{at}.{appointment.public_id}@clinic.example.org>"
    assert sent.message()["Message-ID"] == expected
    # Derived, not drawn: the same for the same reminder, another for another kind or time.
    assert emails.reminder_message_id(appointment, kind="48h") == expected
    assert emails.reminder_message_id(appointment, kind="2h") != expected
    appointment.start += dt.timedelta(days=1)
    assert emails.reminder_message_id(appointment, kind="48h") != expected
    # Other emails keep a new Message-ID at each send (the mail library's).
    emails.send_cancellation(appointment)
    assert not str(mail.outbox[1].message()["Message-ID"]).startswith("<reminder.")


def test_a_send_that_fails_marks_nothing_so_the_job_run_again_sends_it(
    appointment: Appointment, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = appointment.start.isoformat()

    def refused(self: EmailBackend, messages: Any) -> int:
        raise ConnectionRefusedError("the mail server is down")

    with monkeypatch.context() as patched:
        patched.setattr(EmailBackend, "send_messages", refused)
        with pytest.raises(ConnectionRefusedError):
            tasks.appointment_reminder.call(appointment.pk, "48h", start)
    # Before the commit: no record, no audit event, nothing sent. (At-most-once would have
    # committed the claim first and lost this reminder.)
    assert (SentReminder.objects.count(), _reminder_events(), len(mail.outbox)) == (0, 0, 0)

    assert tasks.appointment_reminder.call(appointment.pk, "48h", start) == "sent"
    assert tasks.appointment_reminder.call(appointment.pk, "48h", start) == "skipped: already sent"
    assert (SentReminder.objects.count(), _reminder_events(), len(mail.outbox)) == (1, 1, 1)
