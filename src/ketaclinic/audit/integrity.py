"""Checking the audit trail's hash chains (``ketaclinic audit verify``).

One pass over every event in id order, streamed, keeping only the last hash of each chain, so
memory stays bounded however long the trail is. Each event must follow the previous event of its
chain (``prev_hash``) and match its own content (``hash``, recomputed); each chain must end where
its head says. The report names events by id, clinic and time only: never patient data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from ketaclinic.audit.models import (
    GENESIS_HASH,
    AuditChainHead,
    AuditEvent,
    chain_of,
    event_hash,
)

CHUNK = 2000

# The triggers the migrations create (0002 and 0005), by engine.
TRIGGERS = {
    "sqlite": ("audit_auditevent_no_update", "audit_auditevent_no_delete"),
    "postgresql": ("audit_auditevent_no_update_delete", "audit_auditevent_no_truncate"),
}


@dataclass(frozen=True)
class BrokenLink:
    event_id: int | None
    chain: int
    occurred_at: dt.datetime | None
    reason: str

    def describe(self) -> str:
        where = "no clinic" if self.chain == 0 else f"clinic {self.chain}"
        when = ""
        if self.occurred_at is not None:
            when = f", {self.occurred_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"
        return f"event {self.event_id} ({where}{when}): {self.reason}"


@dataclass
class ChainReport:
    chains: int = 0
    events: int = 0
    broken: list[BrokenLink] = field(default_factory=list)
    missing_triggers: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.broken and not self.missing_triggers


def chain_verify() -> ChainReport:
    """Recompute every chain; the first break is ``report.broken[0]``.

    The heads are read before the events, so events appended while the check runs only extend
    a chain beyond its head: each head's event must be found in its chain with the head's hash.
    """
    report = ChainReport()
    heads = {head.chain: head for head in AuditChainHead.objects.all()}
    last: dict[int, tuple[int, str]] = {}
    head_found: set[int] = set()
    for row in _event_rows():
        (pk, occurred_at, actor_id, role, action, object_type, object_id) = row[:7]
        (patient_id, clinic_id, ip_address, detail, prev_hash, stored_hash) = row[7:]
        report.events += 1
        chain = chain_of(clinic_id)
        expected_prev = last.get(chain, (0, GENESIS_HASH))[1]
        recomputed = event_hash(
            prev_hash=prev_hash,
            occurred_at=occurred_at,
            actor_id=actor_id,
            actor_role=role,
            action=action,
            object_type=object_type,
            object_id=object_id,
            patient_id=patient_id,
            clinic_id=clinic_id,
            ip_address=ip_address,
            detail=detail,
        )
        reason = ""
        if recomputed != stored_hash:
            reason = "its content no longer matches its hash: the event was changed after saving"
        elif prev_hash != expected_prev:
            reason = (
                "it does not follow the previous event of its chain: an event before it was "
                "removed, changed or moved"
            )
        if reason:
            report.broken.append(BrokenLink(pk, chain, occurred_at, reason))
        head = heads.get(chain)
        if head is not None and head.last_event_id == pk and head.last_hash == stored_hash:
            head_found.add(chain)
        # Carry on from what is stored, so one break is reported once, not at every later event.
        last[chain] = (pk, stored_hash)
    # A chain whose first event committed after the heads were read has its head by now.
    unheaded = set(last) - set(heads)
    heads.update({h.chain: h for h in AuditChainHead.objects.filter(chain__in=unheaded)})
    for chain in sorted(set(heads) | set(last)):
        head = heads.get(chain)
        if head is None:
            report.broken.append(
                BrokenLink(last[chain][0], chain, None, "its chain has no head row: it was removed")
            )
        elif chain in unheaded:
            continue
        elif chain not in head_found and (head.last_event_id is not None or chain in last):
            report.broken.append(
                BrokenLink(
                    head.last_event_id,
                    chain,
                    None,
                    "the chain's head names this event as the last one and the chain does not "
                    "end with it: events were cut from its end, or the head was changed",
                )
            )
    report.chains = len(set(heads) | set(last))
    report.missing_triggers = _missing_triggers()
    return report


#: An event's columns in the order the verification reads them (the seeder writes them so too).
EVENT_COLUMNS = (
    "id",
    "occurred_at",
    "actor_id",
    "actor_role",
    "action",
    "object_type",
    "object_id",
    "patient_id",
    "clinic_id",
    "ip_address",
    "detail",
    "prev_hash",
    "hash",
)


def _event_rows() -> Iterator[tuple[Any, ...]]:
    return AuditEvent.objects.order_by("id").values_list(*EVENT_COLUMNS).iterator(chunk_size=CHUNK)


def _missing_triggers() -> list[str]:
    expected = TRIGGERS.get(connection.vendor, ())
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'audit_auditevent'"
            )
        elif connection.vendor == "postgresql":
            # tgenabled 'D': disabled by its owner (ALTER TABLE ... DISABLE TRIGGER).
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_auditevent'::regclass "
                "AND tgenabled <> 'D'"
            )
        else:
            return []
        present = {str(name) for (name,) in cursor.fetchall()}
    return [name for name in expected if name not in present]
