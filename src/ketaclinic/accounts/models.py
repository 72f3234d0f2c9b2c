"""Users log in by email; each has exactly one role and (except superusers) one clinic."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Role(models.TextChoices):
    PATIENT = "patient", "Patient"
    FRONT_DESK = "front_desk", "Front desk"
    NURSE = "nurse", "Nurse"
    PHYSICIAN = "physician", "Physician"
    CLINIC_ADMIN = "clinic_admin", "Clinic admin"


STAFF_ROLES = frozenset({Role.FRONT_DESK, Role.NURSE, Role.PHYSICIAN, Role.CLINIC_ADMIN})
CLINICAL_ROLES = frozenset({Role.NURSE, Role.PHYSICIAN, Role.CLINIC_ADMIN})


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("email: an email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    # The id other systems know a staff member by (the FHIR API's Practitioner id): never the
    # database's own.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    full_name = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=20, choices=Role.choices, blank=True)
    # Named by string: a user belongs to a clinic, and the clinics app sits above accounts
    # (docs/architecture.md "Layout"), so this module does not import it.
    clinic = models.ForeignKey(
        "clinics.Clinic", on_delete=models.PROTECT, null=True, blank=True, related_name="users"
    )
    # Where a staff member works; patients have none.
    locations = models.ManyToManyField("clinics.Location", blank=True, related_name="staff")
    is_active = models.BooleanField(default=True)
    # Django admin access (operators only); clinic roles never need it.
    is_staff = models.BooleanField(default=False)
    # Demo accounts log in only while the server runs in demo mode.
    is_demo = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            # A clinic role without a clinic would see nothing or, worse, everything.
            models.CheckConstraint(
                condition=Q(role="") | Q(clinic__isnull=False),
                name="user_role_needs_clinic",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def is_clinic_staff(self) -> bool:
        return self.role in STAFF_ROLES and self.clinic_id is not None

    @property
    def is_patient(self) -> bool:
        return self.role == Role.PATIENT and self.clinic_id is not None

    @property
    def display_name(self) -> str:
        return self.full_name or self.email


class StaffInvitation(models.Model):
    """A clinic admin's invitation for one person to join the clinic's staff with one role.

    The emailed link carries only a signed random nonce. It works once (``accepted_at`` is
    claimed by a conditional UPDATE in the accepting transaction), until ``expires_at``, and not
    after the admin revoked it.
    """

    clinic = models.ForeignKey(
        "clinics.Clinic", on_delete=models.PROTECT, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices)
    locations = models.ManyToManyField("clinics.Location", blank=True, related_name="+")
    nonce = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.OneToOneField(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="invitation"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Patients come through the booking flow, never by invitation.
            models.CheckConstraint(
                condition=Q(role__in=sorted(r.value for r in STAFF_ROLES)),
                name="staff_invitation_staff_role",
            ),
            models.CheckConstraint(
                condition=Q(accepted_at__isnull=True) | Q(revoked_at__isnull=True),
                name="staff_invitation_not_accepted_and_revoked",
            ),
            # One open invitation per address and clinic: a second would leave two live links.
            models.UniqueConstraint(
                fields=["clinic", "email"],
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="staff_invitation_one_open_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.get_role_display()})"

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        return self.expires_at <= (now or timezone.now())

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and not self.is_expired()
