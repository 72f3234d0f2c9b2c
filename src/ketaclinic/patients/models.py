"""A patient belongs to one clinic; a portal log-in (User) is optional (phone bookings)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Value
from django.db.models.functions import Replace

from ketaclinic.clinics.models import Clinic, Location
from ketaclinic.patients.search import PHONE_SEPARATORS


class Sex(models.TextChoices):
    # Sex assigned at birth is what the dosing formulas (Devine ideal body weight) need.
    FEMALE = "female", "Female"
    MALE = "male", "Male"


def _phone_digits() -> Replace:
    """``phone`` without the separators people type: computed by the database on every write
    (whoever writes: a service, the demo data, a migration), so the search by phone can use an
    index whatever format the number was typed in."""
    expression: Replace | models.F = models.F("phone")
    for separator in PHONE_SEPARATORS:
        expression = Replace(expression, Value(separator), Value(""))
    assert isinstance(expression, Replace)
    return expression


class Patient(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="patient",
    )
    home_location = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="patients"
    )
    # URLs carry this random id, never the sequential primary key or the record number.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # A short clinic-unique number for the front desk; never the database id, never in URLs.
    mrn = models.CharField("record number", max_length=20)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex.choices)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    phone_digits = models.GeneratedField(
        expression=_phone_digits(),
        output_field=models.CharField(max_length=40),
        db_persist=True,
    )
    referring_physician = models.CharField(max_length=200, blank=True)
    referring_physician_email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Optimistic locking: a form saved over a newer version is refused.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["family_name", "given_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "mrn"], name="patient_mrn_unique_per_clinic"),
        ]
        indexes = [
            models.Index(fields=["clinic", "family_name", "given_name"]),
            # The front desk's search by phone and by date of birth (patients/selectors.py).
            models.Index(fields=["clinic", "phone_digits"], name="patient_clinic_phone_digits"),
            models.Index(fields=["clinic", "date_of_birth"], name="patient_clinic_birth_date"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"
