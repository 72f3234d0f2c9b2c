"""AuditEvent: one append-only, hash-chained row for every read and write of patient data.

Rows are written by services in the same transaction as the change they describe
(``ketaclinic.audit.services.audit_record``). The application offers no way to change or delete
one: the model and its queryset refuse; triggers refuse UPDATE and DELETE from raw SQL on both
engines (migrations 0002 and 0005) and TRUNCATE on PostgreSQL. What the triggers cannot stop (an
owner of the database file or of the tables) the hash chain makes visible: each event carries the
hash of the previous event of its clinic's chain (``event_hash``), and ``ketaclinic audit verify``
recomputes them all (``audit/integrity.py``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils import timezone

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first event of a chain."""

NO_CLINIC_CHAIN = 0
"""The chain of events that belong to no clinic (clinic ids start at 1)."""


class AuditImmutableError(RuntimeError):
    pass


class Action(models.TextChoices):
    READ = "read", "Read"
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"
    SIGN = "sign", "Sign"
    OVERRIDE = "override", "Override"
    EXPORT = "export", "Export"
    LOGIN = "login", "Log-in"
    LOGIN_REFUSED = "login_refused", "Log-in refused"
    LOGOUT = "logout", "Log-out"
    # Authentication events (issue 15): each carries the client address.
    TIMEOUT = "timeout", "Signed out after inactivity"
    LOCKOUT = "lockout", "Locked out"
    MFA_ENROL = "mfa_enrol", "Second factor added"
    MFA_REMOVE = "mfa_remove", "Second factor removed"
    MFA_RESET = "mfa_reset", "Second factor reset by an admin"
    PASSWORD_CHANGE = "password_change", "Password changed"
    PASSWORD_RESET = "password_reset", "Password reset"
    REAUTH = "reauth", "Identity confirmed"
    REAUTH_REFUSED = "reauth_refused", "Identity not confirmed"


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AuditImmutableError("Audit events are append-only: they cannot be updated.")

    def delete(self) -> NoReturn:
        raise AuditImmutableError("Audit events are append-only: they cannot be deleted.")


class AuditEvent(models.Model):
    # The id other systems know an event by (the FHIR API's AuditEvent id), never the database's
    # own. Not hashed: the chain covers what happened (``event_hash``), and migration 0007 gave
    # the events written before it their ids without changing one hash.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Set by audit_record before hashing (not auto_now_add, which would overwrite the hashed
    # value on save): the moment of saving.
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    # Copied, not joined: the role at the time of the event, even if the user's role changes.
    actor_role = models.CharField(max_length=20, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=40, blank=True)
    # db_constraint=False: the audit trail must outlive anything it mentions.
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    clinic = models.ForeignKey(
        "clinics.Clinic",
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    # sha256 hex of the previous event of the same chain (GENESIS_HASH for the first), and of this
    # event's content with that previous hash (event_hash).
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        # One index for each way the audit page narrows the trail (audit/selectors.py), each
        # ending in the page's order (time, then id), so a page or a month is a seek and a short
        # walk down one index on either engine, never a sort of the clinic's events. Other
        # pairs of filters walk the index of one and check the other on the rows it meets.
        # (Migration 0006 explains why they are built concurrently on PostgreSQL.)
        indexes = [
            models.Index(fields=["clinic", "-occurred_at", "-id"], name="audit_clinic_time"),
            models.Index(
                fields=["clinic", "action", "-occurred_at", "-id"], name="audit_clinic_action_time"
            ),
            models.Index(
                fields=["clinic", "object_type", "-occurred_at", "-id"],
                name="audit_clinic_object_time",
            ),
            # Both together: a rare pair of two common values (exports of letters) would
            # otherwise walk every event of one of them (0.5 s over a million on SQLite).
            models.Index(
                fields=["clinic", "action", "object_type", "-occurred_at", "-id"],
                name="audit_clinic_act_obj_time",
            ),
            models.Index(
                fields=["clinic", "actor", "-occurred_at", "-id"], name="audit_clinic_actor_time"
            ),
            models.Index(fields=["patient", "-occurred_at", "-id"], name="audit_patient_time"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor_role} {self.action} {self.object_type}"
        )

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise AuditImmutableError("Audit events are append-only: they cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AuditImmutableError("Audit events are append-only: they cannot be deleted.")


class AuditChainHead(models.Model):
    """The last event of one chain: the row appends lock, so each chain grows one at a time.

    It also lets ``audit verify`` notice events cut from the end of a chain, which no later
    event's ``prev_hash`` would reveal.
    """

    # The clinic's id, or NO_CLINIC_CHAIN.
    chain = models.BigIntegerField(primary_key=True)
    last_event_id = models.BigIntegerField(null=True, blank=True)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    def __str__(self) -> str:
        return f"audit chain {self.chain} at event {self.last_event_id}"


def chain_of(clinic_id: int | None) -> int:
    return NO_CLINIC_CHAIN if clinic_id is None else clinic_id


def event_hash(
    *,
    prev_hash: str,
    occurred_at: dt.datetime,
    actor_id: int | None,
    actor_role: str,
    action: str,
    object_type: str,
    object_id: str,
    patient_id: int | None,
    clinic_id: int | None,
    ip_address: str | None,
    detail: Any,
) -> str:
    """sha256 hex of one event's content and the previous hash, as stored and as read back.

    One JSON array with sorted keys and no spaces, so the same row always serialises the same
    way on either engine. The time is taken in UTC to the microsecond (both engines store
    microseconds).
    """
    content = [
        prev_hash,
        occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        actor_id,
        actor_role,
        action,
        object_type,
        object_id,
        patient_id,
        clinic_id,
        ip_address,
        _stored_json(detail),
    ]
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _stored_json(value: Any) -> Any:
    """The detail as the database gives it back: JSON types only, and integral floats as integers.

    PostgreSQL's jsonb keeps numbers as numeric, so a float such as 1e16 comes back as the integer
    10000000000000000; serialising both as integers keeps the hash the same before and after
    saving. (Details hold field names, counts and ids; floats beyond 2**53 are not expected.)
    """
    return _integral_floats(json.loads(json.dumps(value)))


def _integral_floats(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral_floats(item) for item in value]
    if isinstance(value, dict):
        return {key: _integral_floats(item) for key, item in value.items()}
    return value
