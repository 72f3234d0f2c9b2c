"""The tamper-evident trail: each event carries the hash of the previous event of its clinic's
chain, and ``ketaclinic audit verify`` recomputes them all and names the first broken link.

Tampering is done as it would be: with the triggers lifted, as someone holding the SQLite file
or a PostgreSQL superuser can. The application itself cannot (see test_audit_trail.py).
"""

from __future__ import annotations

import datetime as dt
import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction
from django.db.backends.utils import CursorWrapper

from ketaclinic.audit.integrity import chain_verify
from ketaclinic.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent, chain_of
from ketaclinic.audit.services import Actor, audit_record
from ketaclinic.patients import selectors, services
from tests.conftest import World

COLUMNS = (
    "occurred_at, actor_id, actor_role, action, object_type, object_id, patient_id, clinic_id, "
    "ip_address, detail, prev_hash, hash"
)


def workload(world: World) -> None:
    """A morning's events in both clinics, and one that belongs to no clinic."""
    desk = Actor(user=world.front_desk, ip="203.0.113.7")
    patient = services.patient_register(
        actor=desk,
        clinic=world.clinic,
        given_name="Carmen",
        family_name="Delgado",
        date_of_birth=dt.date(1966, 6, 21),
        sex="female",
    )
    services.patient_update(
        actor=Actor(user=world.physician, ip="2001:DB8::7"),
        public_id=str(patient.public_id),
        expected_version=patient.version,
        changes={"phone": "(216) 555-0100"},
    )
    for user, record in (
        (world.nurse, world.bob_patient),
        (world.other_physician, world.other_patient),
        (world.physician, world.alice_patient),
    ):
        selectors.patient_detail(actor=Actor(user=user), public_id=str(record.public_id))
    with transaction.atomic():
        audit_record(
            actor=Actor(user=None, ip="198.51.100.2"),
            action="login_refused",
            object_type="user",
            detail={"reason": "unknown", "attempt": 2.0, "hops": [1, "two"]},
        )
        # A blank address is stored as NULL: the hash must be taken of what is stored.
        audit_record(actor=Actor(user=None, ip=""), action="logout", object_type="user")


def verify() -> str:
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    return out.getvalue()


def verify_fails() -> str:
    out = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("audit", "verify", stdout=out)
    assert failure.value.returncode == 1
    return f"{out.getvalue()}\n{failure.value}"


def in_id_order() -> list[AuditEvent]:
    return list(AuditEvent.objects.order_by("id"))


def broken_at(event: AuditEvent) -> str:
    when = event.occurred_at.astimezone(dt.UTC)
    return (
        f"First broken link: event {event.pk} "
        f"(clinic {event.clinic_id}, {when:%Y-%m-%d %H:%M:%S} UTC)"
    )


@contextmanager
def triggers_lifted() -> Iterator[CursorWrapper]:
    """What an attacker with the SQLite file, or a PostgreSQL superuser, can do."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'audit_auditevent'"
            )
            triggers = cursor.fetchall()
            for name, _sql in triggers:
                cursor.execute(f"DROP TRIGGER {name}")
            yield cursor
            for _name, sql in triggers:
                cursor.execute(sql)
        else:
            cursor.execute("SET LOCAL session_replication_role = replica")
            yield cursor
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")


def test_every_event_follows_the_previous_one_of_its_clinic(world: World) -> None:
    workload(world)
    events = in_id_order()
    assert len(events) == 7
    last: dict[int, str] = {}
    for event in events:
        chain = chain_of(event.clinic_id)
        assert event.prev_hash == last.get(chain, GENESIS_HASH)
        assert len(event.hash) == 64
        last[chain] = event.hash
    assert sorted(last) == sorted([0, world.clinic.pk, world.other_clinic.pk])
    heads = {h.chain: (h.last_event_id, h.last_hash) for h in AuditChainHead.objects.all()}
    assert heads == {
        chain: (max(e.pk for e in events if chain_of(e.clinic_id) == chain), last_hash)
        for chain, last_hash in last.items()
    }


def test_the_chain_verifies_after_a_normal_workload(world: World) -> None:
    workload(world)
    output = verify()
    assert "Audit trail: 3 chains, 7 events checked" in output
    assert "Intact" in output


@pytest.mark.django_db
def test_an_empty_trail_verifies() -> None:
    assert "0 chains, 0 events checked" in verify()


def test_an_edited_detail_is_named_as_the_first_broken_link(world: World) -> None:
    workload(world)
    update = AuditEvent.objects.get(action="update")
    with triggers_lifted() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET detail = %s WHERE id = %s", ['{"fields": []}', update.pk]
        )
    assert AuditEvent.objects.get(pk=update.pk).detail == {"fields": []}
    report = verify_fails()
    assert broken_at(update) in report
    assert "changed after saving" in report
    # The report names events, clinics and times: never a patient.
    patient = update.patient
    assert patient is not None
    for identifying in (patient.given_name, patient.family_name, patient.mrn, patient.public_id):
        assert str(identifying) not in report


def test_a_deleted_middle_event_breaks_the_link_of_the_next_one(world: World) -> None:
    workload(world)
    ours = [e for e in in_id_order() if e.clinic_id == world.clinic.pk]
    assert len(ours) == 4
    with triggers_lifted() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [ours[1].pk])
    report = verify_fails()
    assert broken_at(ours[2]) in report
    assert "does not follow the previous event" in report
    assert "Broken links in all: 1." in report


def test_reordered_events_are_detected(world: World) -> None:
    workload(world)
    ours = [e for e in in_id_order() if e.clinic_id == world.clinic.pk]
    first, second = ours[1], ours[2]
    with triggers_lifted() as cursor:
        # Swap the two events' contents (hashes included): each still matches its own hash.
        cursor.execute(
            f"CREATE TEMPORARY TABLE swap AS SELECT id, {COLUMNS} FROM audit_auditevent "  # noqa: S608
            "WHERE id IN (%s, %s)",
            [first.pk, second.pk],
        )
        for target, source in ((first.pk, second.pk), (second.pk, first.pk)):
            cursor.execute(
                f"UPDATE audit_auditevent SET ({COLUMNS}) = "  # noqa: S608
                f"(SELECT {COLUMNS} FROM swap WHERE swap.id = %s) WHERE id = %s",
                [source, target],
            )
        cursor.execute("DROP TABLE swap")
    assert AuditEvent.objects.get(pk=first.pk).hash == second.hash
    report = verify_fails()
    assert broken_at(AuditEvent.objects.get(pk=first.pk)) in report
    assert "does not follow the previous event" in report


def test_events_cut_from_the_end_of_a_chain_are_detected(world: World) -> None:
    workload(world)
    last = AuditEvent.objects.filter(clinic=world.clinic).order_by("-id").first()
    assert last is not None
    with triggers_lifted() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [last.pk])
    report = verify_fails()
    assert f"First broken link: event {last.pk} (clinic {world.clinic.pk})" in report
    assert "events were cut from its end" in report


def test_verify_reports_missing_triggers(world: World) -> None:
    workload(world)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER audit_auditevent_no_delete")
            missing = "audit_auditevent_no_delete"
        else:
            cursor.execute(
                "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_no_truncate"
            )
            missing = "audit_auditevent_no_truncate"
        report = verify_fails()
        assert f"missing or disabled: {missing}." in report
        assert "First broken link" not in report
        transaction.set_rollback(True)
    assert chain_verify().intact


def _one_event(world: World) -> AuditEvent:
    with transaction.atomic():
        return audit_record(
            actor=Actor(user=world.clinic_admin),
            action="read",
            object_type="patient",
            patient=world.alice_patient,
        )


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite has no TRUNCATE (its DELETE is refused: test_audit_trail.py)",
)
def test_postgresql_refuses_truncate(world: World) -> None:
    event = _one_event(world)
    with (
        pytest.raises(DatabaseError, match="append-only: TRUNCATE refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE audit_auditevent")
    assert list(AuditEvent.objects.values_list("pk", flat=True)) == [event.pk]


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite's IMMEDIATE transactions serialise writers; the in-memory test database "
    "refuses a second concurrent writer outright instead of waiting",
)
@pytest.mark.django_db(transaction=True)
def test_two_writers_appending_at_once_leave_an_unbroken_chain(world: World) -> None:
    per_thread = 15
    barrier = threading.Barrier(2)
    failures: list[str] = []

    def append(user: Any) -> None:
        try:
            barrier.wait(timeout=10)
            for _ in range(per_thread):
                with transaction.atomic():
                    audit_record(
                        actor=Actor(user=user),
                        action="read",
                        object_type="patient",
                        patient=world.alice_patient,
                    )
        except Exception as exc:
            failures.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=append, args=(u,)) for u in (world.nurse, world.physician)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert AuditEvent.objects.filter(clinic=world.clinic).count() == 2 * per_thread
    assert "1 chain, 30 events checked" in verify()


@pytest.mark.django_db(transaction=True)
def test_flush_empties_the_trail_and_leaves_its_triggers_in_place(world: World) -> None:
    workload(world)
    call_command("flush", interactive=False, verbosity=0)
    assert AuditEvent.objects.count() == 0
    assert AuditChainHead.objects.count() == 0
    report = chain_verify()
    assert (report.events, report.missing_triggers) == (0, [])


@pytest.mark.django_db(transaction=True)
def test_the_migration_chains_the_events_written_before_it(world: World) -> None:
    from django.db.migrations.executor import MigrationExecutor

    before = [("audit", "0003_authentication_actions")]
    executor = MigrationExecutor(connection)
    latest = [key for key in executor.loader.graph.leaf_nodes() if key[0] == "audit"]
    executor.migrate(before)
    old_event = executor.loader.project_state(before).apps.get_model("audit", "AuditEvent")
    clinics = [world.clinic.pk, None, world.other_clinic.pk, world.clinic.pk]
    for number, clinic_id in enumerate(clinics):
        old_event.objects.create(
            actor_role="nurse",
            action="read",
            object_type="patient",
            object_id=str(number),
            clinic_id=clinic_id,
            ip_address="2001:db8::1",
            detail={"results": number, "dose_mg": 0.5},
        )
    executor = MigrationExecutor(connection)
    executor.migrate(latest)
    report = chain_verify()
    assert (report.chains, report.events, report.broken, report.missing_triggers) == (3, 4, [], [])
    # New events carry on from where the migration left each chain.
    last_ours = AuditEvent.objects.filter(clinic=world.clinic).order_by("-id")[0]
    with transaction.atomic():
        new = audit_record(
            actor=Actor(user=world.nurse), action="read", object_type="patient", clinic=world.clinic
        )
    assert new.prev_hash == last_ours.hash
    assert chain_verify().intact


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's shared-cache table locks only")
@pytest.mark.django_db(transaction=True)
def test_flush_waits_for_a_table_another_connection_still_reads(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live test server still answering a browser's last request holds a read on the shared
    in-memory database while the test's flush drops the audit triggers: the flush waits for it
    (issue 16's pages fetch their navigation count after they load, so this happens)."""
    workload(world)
    reading = threading.Event()
    done = threading.Event()

    def read_for_a_while() -> None:
        other = connections.create_connection("default")
        cursor = other.cursor()
        cursor.execute("SELECT name FROM sqlite_master")
        cursor.fetchone()  # the statement stays open, holding its read
        reading.set()
        time.sleep(1.0)
        cursor.close()
        other.close()
        done.set()

    reader = threading.Thread(target=read_for_a_while)
    reader.start()
    assert reading.wait(10)
    call_command("flush", interactive=False, verbosity=0)
    reader.join()
    assert done.is_set()
    assert AuditEvent.objects.count() == 0
    assert chain_verify().missing_triggers == []
