"""Patient records, and a registration date moved back for tests that need a history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from ketaclinic.accounts.models import User
from ketaclinic.clinics.models import Clinic, Location
from ketaclinic.patients.models import Patient
from tests.factories.base import next_number


def make_patient(
    clinic: Clinic,
    *,
    given: str = "Pat",
    family: str = "Example",
    user: User | None = None,
    location: Location | None = None,
    **extra: Any,
) -> Patient:
    n = next_number()
    fields: dict[str, Any] = {
        "clinic": clinic,
        "mrn": f"T{n:06d}",
        "given_name": given,
        "family_name": family,
        "date_of_birth": dt.date(1970, 1, 1),
        "sex": "female",
        "email": f"patient{n}@example.test",
        "user": user,
        "home_location": location,
    }
    fields.update(extra)
    return Patient.objects.create(**fields)


def registered_since(patient: Patient, days: int) -> None:
    """Pretend the patient joined ``days`` ago, so there is room for a diary history."""
    Patient.objects.filter(pk=patient.pk).update(
        created_at=timezone.now() - dt.timedelta(days=days)
    )
    patient.refresh_from_db()
