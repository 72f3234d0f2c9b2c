"""Small factories: plain functions with sensible defaults, so a test says only what matters."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from allauth.account.models import EmailAddress

from ketaclinic.accounts.models import Role, User
from ketaclinic.clinics.models import Chair, Clinic, Location
from ketaclinic.clinics.services import clinic_defaults_install
from ketaclinic.patients.models import Patient

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


def make_clinic(name: str = "North Shore Pain Clinic") -> Clinic:
    n = next(_seq)
    clinic = Clinic.objects.create(name=name, slug=f"clinic-{n}")
    clinic_defaults_install(clinic=clinic)
    return clinic


def make_location(
    clinic: Clinic, name: str = "Cleveland", tz: str = "America/New_York", chairs: int = 2
) -> Location:
    location = Location.objects.create(
        clinic=clinic, name=name, city=name, region="OH", time_zone=tz
    )
    for i in range(1, chairs + 1):
        Chair.objects.create(location=location, name=f"Chair {i}")
    return location


def make_user(
    clinic: Clinic | None,
    role: Role | str,
    *,
    email: str | None = None,
    name: str = "",
    locations: tuple[Location, ...] = (),
    **extra: Any,
) -> User:
    email = email or f"user{next(_seq)}@example.test"
    user = User.objects.create_user(
        email, PASSWORD, role=role, clinic=clinic, full_name=name or email, **extra
    )
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    if locations:
        user.locations.add(*locations)
    return user


def make_patient(
    clinic: Clinic,
    *,
    given: str = "Pat",
    family: str = "Example",
    user: User | None = None,
    location: Location | None = None,
    **extra: Any,
) -> Patient:
    n = next(_seq)
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
