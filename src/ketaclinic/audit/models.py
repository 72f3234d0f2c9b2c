"""AuditEvent: one append-only row for every read and write of patient data.

Rows are written by services in the same transaction as the change they describe
(``ketaclinic.audit.services.audit_record``). The application offers no way to change or delete
one: the model and its queryset refuse, and on PostgreSQL a trigger (migration 0002) refuses
UPDATE and DELETE even from raw SQL.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models


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
    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
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

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["clinic", "-occurred_at"]),
            models.Index(fields=["patient", "-occurred_at"]),
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
