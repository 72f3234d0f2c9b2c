"""The daily purge of anonymous self-checks: what goes, what stays, and its next run."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.lib.tasks import ALREADY_RUN, next_run_at
from ketaclinic.screening import services, tasks
from ketaclinic.screening.models import SelfCheck
from ketaclinic.screening.services import selfcheck_attach, selfcheck_submit, selfchecks_purge
from tests.conftest import World
from tests.screening.helpers import answers

pytestmark = pytest.mark.django_db

PATH = "ketaclinic.screening.tasks.selfcheck_purge"


def make(*, days_old: float) -> SelfCheck:
    selfcheck = selfcheck_submit(answers=answers())
    SelfCheck.objects.filter(pk=selfcheck.pk).update(
        created_at=timezone.now() - dt.timedelta(days=days_old)
    )
    return selfcheck


def waiting() -> list[DBTaskResult[..., Any]]:
    return list(DBTaskResult.objects.filter(task_path=PATH, status=TaskResultStatus.READY))


def test_only_anonymous_self_checks_past_the_retention_are_deleted(world: World) -> None:
    old = [make(days_old=31), make(days_old=400)]
    young = make(days_old=29)
    attached_old = make(days_old=90)
    selfcheck_attach(
        actor=Actor(user=world.alice), selfcheck=attached_old, patient=world.alice_patient
    )

    assert selfchecks_purge(older_than=dt.timedelta(days=30)) == 2

    assert not SelfCheck.objects.filter(pk__in=[s.pk for s in old]).exists()
    assert set(SelfCheck.objects.values_list("pk", flat=True)) == {young.pk, attached_old.pk}
    assert SelfCheck.objects.get(pk=attached_old.pk).patient == world.alice_patient
    event = AuditEvent.objects.get(object_type="selfcheck_purge")
    assert (event.action, event.actor_id, event.patient_id) == ("delete", None, None)
    assert event.detail["deleted"] == 2


def test_purging_twice_deletes_nothing_more_and_records_nothing_more() -> None:
    make(days_old=60)
    kept = make(days_old=1)
    assert selfchecks_purge(older_than=dt.timedelta(days=30)) == 1
    assert selfchecks_purge(older_than=dt.timedelta(days=30)) == 0
    assert list(SelfCheck.objects.values_list("pk", flat=True)) == [kept.pk]
    assert AuditEvent.objects.filter(object_type="selfcheck_purge").count() == 1


def test_the_purge_works_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "PURGE_BATCH", 2)
    for _ in range(5):
        make(days_old=45)
    assert selfchecks_purge(older_than=dt.timedelta(days=30)) == 5
    assert SelfCheck.objects.count() == 0
    counts = [
        e.detail["deleted"]
        for e in AuditEvent.objects.filter(object_type="selfcheck_purge").order_by("id")
    ]
    assert counts == [2, 2, 1]


@override_settings(SELFCHECK_RETENTION_DAYS=7)
def test_the_task_uses_the_retention_setting_and_enqueues_its_next_run() -> None:
    make(days_old=8)
    kept = make(days_old=6)
    before = timezone.now()
    assert tasks.selfcheck_purge.call() == "deleted 1"
    assert list(SelfCheck.objects.values_list("pk", flat=True)) == [kept.pk]
    (next_run,) = waiting()
    day = dt.timedelta(days=1)
    # Due at the start of the next period (lib.tasks.next_run_at).
    assert next_run_at(before, day) <= next_run.run_after <= next_run_at(timezone.now(), day)
    # Running again the same day (a restarted worker, a second worker) does nothing and still
    # leaves exactly one run waiting.
    assert tasks.selfcheck_purge.call() == ALREADY_RUN
    assert len(waiting()) == 1


def test_the_default_retention_is_thirty_days() -> None:
    assert tasks.retention_days() == 30
    make(days_old=31)
    kept = make(days_old=29)
    assert tasks.selfcheck_purge.call() == "deleted 1"
    assert list(SelfCheck.objects.values_list("pk", flat=True)) == [kept.pk]
