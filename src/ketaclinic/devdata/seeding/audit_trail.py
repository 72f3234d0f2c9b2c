"""The seeded audit trail: the events a clinic's staff would have left around each seeded patient,
appended to the clinic's hash chain so that ``ketaclinic audit verify`` passes.

Per patient: the record created on registration, the consultation and the plan signed on the
exam's day, each infusion appointment booked a week before the series, each signed session,
then reads of the chart and the diary by the physician and the nurses between registration and
the end of the diary, enough to make ``per_patient`` events in all (a chain of 100,000
patients at the default 50 holds 5 M events, the chain-size target of issue 17).

Drawn from a generator of its own (``SeedRun.audit_rng``), so a seed with and without the trail
gives the same patients and diaries.

The fast path, and why it still verifies: ``audit.models.event_hash`` serialises each event as one
JSON array (sorted keys, no spaces, ASCII); the seed's values are all plain ASCII (hex hashes,
ISO instants, role and action names, uuids) and its details are fixed, so ``_hash`` formats the
same text directly instead of calling ``json.dumps`` twice per event (about 4 times faster: 5 M
events take about 20 s, not 90). ``tests/devdata/test_seed_chain.py`` checks every seeded event
against ``event_hash`` through ``audit verify``. The hashes are computed before the transaction
from the chain's head as last read; inside it the head is locked and, if a live server appended
meanwhile, the batch is re-chained from the new head (a few ms) before it is written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction

from ketaclinic.accounts.models import Role
from ketaclinic.audit.api import EVENT_COLUMNS
from ketaclinic.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from ketaclinic.devdata.seeding.bulk import TXN_ROWS, chunks, copy_rows, reserve_ids
from ketaclinic.devdata.seeding.population import PatientDraft, SeedRun
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.models import Appointment

# The hashed columns, then the event's public id (not hashed: ``audit.models.event_hash``), which
# each row must bring itself: ``bulk.copy_rows`` would give every row of a batch the one default.
AUDIT_FIELDS = (*EVENT_COLUMNS, "public_id")

# The details the seed writes, as stored (JSON text) and as hashed (canonical JSON).
_CREATED: dict[str, object] = {"fields": ["date_of_birth", "family_name", "given_name", "sex"]}
_CHART: dict[str, object] = {"page": "chart"}
_DIARY: dict[str, object] = {"page": "diary"}


def _canonical(detail: dict[str, object]) -> str:
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


@dataclass(frozen=True)
class SeedEvent:
    """One event before it is chained: everything ``event_hash`` reads but the previous hash."""

    occurred_at: dt.datetime
    actor_id: int
    actor_role: str
    action: str
    object_type: str
    object_id: str
    patient_id: int
    detail: dict[str, object]


def draw_audit(
    run: SeedRun,
    *,
    patients: Sequence[Patient],
    drafts: Sequence[PatientDraft],
    appointments: Sequence[Appointment],
    sessions: Sequence[InfusionSession],
    per_patient: int,
) -> list[SeedEvent]:
    """The batch's events, in time order (so each chain reads forward in time, batch by batch)."""
    rng = run.audit_rng
    physician = run.physician
    booked: dict[int, list[Appointment]] = {}
    for appointment in appointments:
        booked.setdefault(appointment.patient_id, []).append(appointment)
    signed: dict[int, list[InfusionSession]] = {}
    for session in sessions:
        if session.signed_at is not None:
            signed.setdefault(session.patient_id, []).append(session)
    readers = [(physician.pk, Role.PHYSICIAN.value)] + [
        (nurse.pk, Role.NURSE.value) for nurse in run.nurses.users[:4]
    ]
    events: list[SeedEvent] = []
    for patient, draft in zip(patients, drafts, strict=True):
        pid, public = patient.pk, str(patient.public_id)
        registered = dt.datetime.combine(draft.registered, dt.time(14, 0), tzinfo=dt.UTC)
        exam_signed = dt.datetime.combine(draft.exam, dt.time(21, 0), tzinfo=dt.UTC)
        own = [
            SeedEvent(registered, physician.pk, Role.PHYSICIAN.value, "create", "patient",
                      public, pid, _CREATED),
            SeedEvent(exam_signed, physician.pk, Role.PHYSICIAN.value, "sign", "consultation",
                      public, pid, {}),
            SeedEvent(exam_signed + dt.timedelta(minutes=5), physician.pk,
                      Role.PHYSICIAN.value, "sign", "plan", public, pid, {}),
        ]  # fmt: skip
        mine = booked.get(pid, [])
        if mine:
            booking = min(a.start for a in mine) - dt.timedelta(days=7)
            own.extend(
                SeedEvent(booking + dt.timedelta(seconds=i), physician.pk, Role.PHYSICIAN.value,
                          "create", "appointment", str(a.public_id), pid, {})
                for i, a in enumerate(mine)
            )  # fmt: skip
        own.extend(
            SeedEvent(s.signed_at, physician.pk, Role.PHYSICIAN.value, "sign",
                      "infusion_session", str(s.public_id), pid, {})
            for s in signed.get(pid, [])
            if s.signed_at is not None
        )  # fmt: skip
        reads = max(per_patient - len(own), 0)
        if reads:
            span = max(int((run.end - draft.registered).days * 86400), 1)
            seconds = rng.integers(0, span, reads)
            who = rng.integers(0, len(readers), reads)
            diary = rng.random(reads) < 0.5
            for second, reader, on_diary in zip(
                seconds.tolist(), who.tolist(), diary.tolist(), strict=True
            ):
                actor_id, role = readers[reader]
                own.append(
                    SeedEvent(registered + dt.timedelta(seconds=second), actor_id, role, "read",
                              "patient", public, pid, _DIARY if on_diary else _CHART)
                )  # fmt: skip
        events.extend(own[:per_patient])
    events.sort(key=lambda e: (e.occurred_at, e.patient_id))
    return events


def _hash(prev: str, stamp: str, event: SeedEvent, clinic_id: int, detail: str) -> str:
    # The exact text ``event_hash`` hashes (see the module's docstring): a JSON array of
    # prev_hash, occurred_at, actor_id, actor_role, action, object_type, object_id, patient_id,
    # clinic_id, ip_address (none) and the detail with sorted keys.
    text = (
        f'["{prev}","{stamp}",{event.actor_id},"{event.actor_role}","{event.action}",'
        f'"{event.object_type}","{event.object_id}",{event.patient_id},{clinic_id},null,{detail}]'
    )
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _chain(
    events: Sequence[SeedEvent], stamps: Sequence[str], details: Sequence[str], clinic_id: int,
    prev: str,
) -> list[str]:  # fmt: skip
    hashes = []
    for event, stamp, detail in zip(events, stamps, details, strict=True):
        prev = _hash(prev, stamp, event, clinic_id, detail)
        hashes.append(prev)
    return hashes


def _head_now(chain: int) -> str:
    head = AuditChainHead.objects.filter(chain=chain).values_list("last_hash", flat=True).first()
    return head or GENESIS_HASH


def _head_locked(chain: int) -> str:
    # As ``audit_record`` does: creates the head on the chain's first event and locks it (the
    # row lock on PostgreSQL; SQLite's IMMEDIATE transaction already holds the write lock).
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditchainhead (chain, last_event_id, last_hash) "
            "VALUES (%s, NULL, %s) "
            "ON CONFLICT (chain) DO UPDATE SET chain = excluded.chain RETURNING last_hash",
            [chain, GENESIS_HASH],
        )
        row = cursor.fetchone()
    return str(row[0])


def write_audit(run: SeedRun, events: Sequence[SeedEvent], *, size: int = TXN_ROWS) -> None:
    """Append ``events`` to the clinic's chain, ``size`` events a transaction."""
    clinic_id = run.clinic.pk
    chain = clinic_id
    for part in chunks(events, size):
        stamps = [e.occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds") for e in part]
        details = [_canonical(e.detail) for e in part]
        stored = [json.dumps(e.detail) for e in part]
        expected = _head_now(chain)
        hashes = _chain(part, stamps, details, clinic_id, expected)
        with transaction.atomic():
            prev = _head_locked(chain)
            if prev != expected:  # a live server appended meanwhile: re-chain from its event
                hashes = _chain(part, stamps, details, clinic_id, prev)
            ids = reserve_ids(AuditEvent, len(part))
            previous = [prev, *hashes[:-1]]
            rows = [
                (pk, e.occurred_at, e.actor_id, e.actor_role, e.action, e.object_type,
                 e.object_id, e.patient_id, clinic_id, None, detail, before, after,
                 uuid.uuid4())
                for pk, e, detail, before, after in zip(
                    ids, part, stored, previous, hashes, strict=True
                )
            ]  # fmt: skip
            copy_rows(AuditEvent, AUDIT_FIELDS, rows)
            AuditChainHead.objects.filter(chain=chain).update(
                last_event_id=ids[-1], last_hash=hashes[-1]
            )
