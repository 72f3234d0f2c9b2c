"""The daily purge of spent emailed links: what goes, what stays, and its next run."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.lib.tasks import ALREADY_RUN, next_run_at
from ketaclinic.scheduling import links, services, tasks
from ketaclinic.scheduling.links import LinkError, link_issue, link_resolve, links_purge
from ketaclinic.scheduling.models import ActionLink, Appointment, LinkAction
from tests.conftest import World
from tests.factories.scheduling import Sched, setup_schedule
from tests.scheduling.helpers import snapshot, some_slots

pytestmark = pytest.mark.django_db

PATH = "ketaclinic.scheduling.tasks.action_link_purge"
DAY = dt.timedelta(days=1)


@pytest.fixture
def sched(world: World) -> Sched:
    return setup_schedule(world)


@pytest.fixture
def appointment(sched: Sched) -> Appointment:
    slot = some_slots(sched)[0]
    return services.appointment_book(
        actor=Actor(user=sched.world.alice),
        patient=sched.world.alice_patient,
        location=sched.world.cleveland,
        appointment_type=sched.consultation,
        provider_id=slot.provider_id,
        start=slot.start,
        online=True,
    )


def link(appointment: Appointment, *, expires: dt.timedelta, used: dt.timedelta | None) -> str:
    """A link that expires (or expired) ``expires`` from now, used ``used`` ago (or never)."""
    now = timezone.now()
    token = link_issue(action=LinkAction.CANCEL, expires_at=now + expires, appointment=appointment)
    if used is not None:
        ActionLink.objects.filter(pk=ActionLink.objects.latest("pk").pk).update(used_at=now - used)
    return token


def waiting() -> list[DBTaskResult[..., Any]]:
    return list(DBTaskResult.objects.filter(task_path=PATH, status=TaskResultStatus.READY))


def test_links_used_or_expired_past_the_retention_are_deleted(appointment: Appointment) -> None:
    ActionLink.objects.all().delete()
    gone = [
        link(appointment, expires=10 * DAY, used=31 * DAY),  # used long ago
        link(appointment, expires=-31 * DAY, used=None),  # expired long ago, never used
        link(appointment, expires=-40 * DAY, used=35 * DAY),
    ]
    kept = [
        link(appointment, expires=10 * DAY, used=None),  # still usable
        link(appointment, expires=10 * DAY, used=29 * DAY),  # used recently
        link(appointment, expires=-29 * DAY, used=None),  # expired recently
    ]
    assert len(gone + kept) == ActionLink.objects.count() == 6
    kept_ids = set(ActionLink.objects.order_by("pk").values_list("pk", flat=True)[3:])

    assert links_purge(older_than=30 * DAY) == 3

    assert set(ActionLink.objects.values_list("pk", flat=True)) == kept_ids
    event = AuditEvent.objects.get(object_type="action_link_purge")
    assert (event.action, event.actor_id, event.detail["deleted"]) == ("delete", None, 3)
    # Idempotent: nothing more to delete, nothing more recorded.
    assert links_purge(older_than=30 * DAY) == 0
    assert AuditEvent.objects.filter(object_type="action_link_purge").count() == 1
    assert Appointment.objects.filter(pk=appointment.pk, status="booked").exists()


def test_the_purge_works_in_batches(
    appointment: Appointment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(links, "PURGE_BATCH", 2)
    ActionLink.objects.all().delete()
    for _ in range(3):
        link(appointment, expires=-60 * DAY, used=None)
    assert links_purge(older_than=30 * DAY) == 3
    assert ActionLink.objects.count() == 0
    counts = [
        e.detail["deleted"]
        for e in AuditEvent.objects.filter(object_type="action_link_purge").order_by("id")
    ]
    assert counts == [2, 1]


def test_a_purged_link_is_refused_clearly_and_changes_nothing(
    sched: Sched, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    slot = some_slots(sched)[1]
    with django_capture_on_commit_callbacks(execute=True):
        booked = services.appointment_book(
            actor=Actor(user=sched.world.alice),
            patient=sched.world.alice_patient,
            location=sched.world.cleveland,
            appointment_type=sched.consultation,
            provider_id=slot.provider_id,
            start=slot.start,
            online=True,
        )
    line = next(x for x in mail.outbox[0].body.splitlines() if x.rstrip("/").endswith("cancel"))
    token = line.split("/a/")[1].split("/")[0]
    ActionLink.objects.filter(appointment=booked).update(used_at=timezone.now() - 40 * DAY)
    assert links_purge(older_than=30 * DAY) == 2
    with pytest.raises(LinkError, match="no longer works"):
        link_resolve(token, action=LinkAction.CANCEL)
    state = snapshot()
    response = client.post(reverse("scheduling:link_cancel", args=[token]))
    assert response.status_code == 400
    assert "This link no longer works" in response.content.decode()
    assert snapshot() == state


@override_settings(ACTION_LINK_RETENTION_DAYS=3)
def test_the_task_uses_the_retention_setting_and_enqueues_its_next_run(
    appointment: Appointment,
) -> None:
    ActionLink.objects.all().delete()
    link(appointment, expires=10 * DAY, used=4 * DAY)
    link(appointment, expires=10 * DAY, used=2 * DAY)
    before = timezone.now()
    assert tasks.action_link_purge.call() == "deleted 1"
    assert ActionLink.objects.count() == 1
    (next_run,) = waiting()
    # Due at the start of the next period (lib.tasks.next_run_at).
    assert next_run_at(before, DAY) <= next_run.run_after <= next_run_at(timezone.now(), DAY)
    # A second run in the same day (another worker) does nothing and enqueues nothing.
    assert tasks.action_link_purge.call() == ALREADY_RUN
    assert len(waiting()) == 1


def test_the_default_link_retention_is_thirty_days() -> None:
    assert tasks.link_retention_days() == 30
