"""Writing audit events. Every service and patient-data selector calls ``audit_record``."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest
from django.utils import timezone

from ketaclinic.audit.models import (
    GENESIS_HASH,
    Action,
    AuditChainHead,
    AuditEvent,
    chain_of,
    event_hash,
)

if TYPE_CHECKING:
    from ketaclinic.accounts.models import User
    from ketaclinic.clinics.models import Clinic
    from ketaclinic.patients.models import Patient


@dataclass(frozen=True)
class Actor:
    """Who is acting and from where: what every service needs to authorize and audit."""

    user: User | None
    ip: str | None = None

    @classmethod
    def from_request(cls, request: HttpRequest) -> Actor:
        # Anyone signed in is a ``User`` (the one user model); the audit app sits below accounts
        # and names it only for the type checker.
        user = request.user if request.user.is_authenticated else None
        return cls(user=user, ip=client_ip(request))

    @property
    def role(self) -> str:
        return self.user.role if self.user is not None else ""


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: what the outermost of ``TRUSTED_PROXY_COUNT`` proxies saw.

    Each proxy appends the address that connected to it to X-Forwarded-For, so with N trusted
    proxies the N-th entry from the right is the client and everything to its left is whatever
    the client chose to send. gunicorn does not rewrite REMOTE_ADDR from the header: it is the
    connecting peer (the nearest proxy), and --forwarded-allow-ips only decides whose scheme
    headers (X-Forwarded-Proto) to trust. (Its PROXY-protocol mode does set the client's address;
    with it, leave TRUSTED_PROXY_COUNT at 0.) So this is the one place the header is read. A
    missing, short or malformed header falls back to REMOTE_ADDR: the proxy's address is wrong
    for everyone alike, where one taken from a bad header might be the client's choice.
    """
    remote = _valid_ip(request.META.get("REMOTE_ADDR"))
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    hops = str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")
    if len(hops) < proxies:
        return remote
    return _valid_ip(hops[-proxies]) or remote


def _valid_ip(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _unsaved_event(
    *,
    actor: Actor,
    action: Action | str,
    object_type: str,
    object_id: object,
    patient: Patient | None,
    clinic: Clinic | None,
    detail: dict[str, Any] | None,
) -> AuditEvent:
    clinic_id: int | None
    if clinic is None and patient is not None:
        clinic_id = patient.clinic_id
    elif clinic is not None:
        clinic_id = clinic.pk
    else:
        clinic_id = actor.user.clinic_id if actor.user is not None else None
    return AuditEvent(
        occurred_at=timezone.now(),
        actor=actor.user,
        actor_role=actor.role,
        action=str(action),
        object_type=object_type,
        object_id=str(object_id) if object_id != "" else "",
        patient=patient,
        clinic_id=clinic_id,
        # As the column stores it (IPv6 compressed, blank as NULL), so the hash matches the row
        # read back.
        ip_address=_IP_FIELD.to_python(actor.ip) or None,
        detail=detail or {},
    )


def _chained(event: AuditEvent, prev_hash: str) -> AuditEvent:
    event.prev_hash = prev_hash
    event.hash = event_hash(
        prev_hash=event.prev_hash,
        occurred_at=event.occurred_at,
        actor_id=event.actor_id,
        actor_role=event.actor_role,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        patient_id=event.patient_id,
        clinic_id=event.clinic_id,
        ip_address=event.ip_address,
        detail=event.detail,
    )
    return event


def _in_transaction() -> BaseDatabaseWrapper:
    connection: BaseDatabaseWrapper = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record must run inside the transaction of the audited change")
    return connection


def audit_record(
    *,
    actor: Actor,
    action: Action | str,
    object_type: str,
    object_id: object = "",
    patient: Patient | None = None,
    clinic: Clinic | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to its clinic's chain. Must run inside the caller's transaction, so the
    event and the change commit or roll back together."""
    connection = _in_transaction()
    event = _unsaved_event(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        patient=patient,
        clinic=clinic,
        detail=detail,
    )
    chain = chain_of(event.clinic_id)
    _chained(event, _chain_head_locked(connection, chain))
    event.save(force_insert=True)
    AuditChainHead.objects.filter(chain=chain).update(last_event_id=event.pk, last_hash=event.hash)
    return event


def audit_record_many(
    *,
    actor: Actor,
    action: Action | str,
    object_type: str,
    patients: Sequence[Patient],
    detail: dict[str, Any] | None = None,
) -> list[AuditEvent]:
    """Append one event per patient (the patient's public id as the object), in that order, to
    their clinic's chain: three statements however many (lock the head, insert them all, move
    the head), for a response that shows many records at once (an API page). Every patient must
    be of one clinic; none, nothing written. Inside the caller's transaction, as ``audit_record``.
    """
    connection = _in_transaction()
    if not patients:
        return []
    clinics = {patient.clinic_id for patient in patients}
    if len(clinics) != 1:
        raise ValueError(f"audit_record_many: patients of {len(clinics)} clinics in one call")
    events = [
        _unsaved_event(
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=patient.public_id,
            patient=patient,
            clinic=None,
            detail=detail,
        )
        for patient in patients
    ]
    chain = chain_of(events[0].clinic_id)
    previous = _chain_head_locked(connection, chain)
    for event in events:
        previous = _chained(event, previous).hash
    # Both engines return the new ids from one INSERT (PostgreSQL, SQLite 3.35+), in order.
    AuditEvent.objects.bulk_create(events)
    last = events[-1]
    AuditChainHead.objects.filter(chain=chain).update(last_event_id=last.pk, last_hash=last.hash)
    return events


_IP_FIELD = AuditEvent._meta.get_field("ip_address")

# One statement creates the chain's head on its first event and locks it (ON CONFLICT DO UPDATE
# takes the row lock on PostgreSQL, as SELECT ... FOR UPDATE would, and works when the row does
# not exist yet), and returns the previous hash. A second writer to the same chain waits here
# until the first commits, then reads the hash it left. SQLite's IMMEDIATE transactions already
# hold the database's one write lock from BEGIN.
_HEAD_LOCK_SQL = (
    "INSERT INTO audit_auditchainhead (chain, last_event_id, last_hash) "
    "VALUES (%s, NULL, %s) "
    "ON CONFLICT (chain) DO UPDATE SET chain = excluded.chain "
    "RETURNING last_hash"
)


def _chain_head_locked(connection: BaseDatabaseWrapper, chain: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(_HEAD_LOCK_SQL, [chain, GENESIS_HASH])
        row = cursor.fetchone()
    return str(row[0])
