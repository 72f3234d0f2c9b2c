"""A patient belongs to one clinic; a portal log-in (User) is optional (phone bookings)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from ketaclinic.clinics.models import Clinic, Location


class Sex(models.TextChoices):
    # Sex assigned at birth is what the dosing formulas (Devine ideal body weight) need.
    FEMALE = "female", "Female"
    MALE = "male", "Male"


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
        indexes = [models.Index(fields=["clinic", "family_name", "given_name"])]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"
