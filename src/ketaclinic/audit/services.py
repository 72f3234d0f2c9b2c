"""Writing audit events. Every service and patient-data selector calls ``audit_record``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.http import HttpRequest

from ketaclinic.audit.models import Action, AuditEvent

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
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites it,
    # and gunicorn behind such a proxy already sets REMOTE_ADDR via --forwarded-allow-ips.
    value = request.META.get("REMOTE_ADDR") or None
    return str(value) if value else None


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
    """Append one event. Must run inside the caller's transaction, so the event and the change
    commit or roll back together."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record must run inside the transaction of the audited change")
    clinic_id: int | None
    if clinic is None and patient is not None:
        clinic_id = patient.clinic_id
    elif clinic is not None:
        clinic_id = clinic.pk
    else:
        clinic_id = actor.user.clinic_id if actor.user is not None else None
    return AuditEvent.objects.create(
        actor=actor.user,
        actor_role=actor.role,
        action=str(action),
        object_type=object_type,
        object_id=str(object_id) if object_id != "" else "",
        patient=patient,
        clinic_id=clinic_id,
        ip_address=actor.ip,
        detail=detail or {},
    )
