"""Clinics with their default policy and protocol templates installed, and their sites."""

from __future__ import annotations

from ketaclinic.clinics.models import Chair, Clinic, Location
from ketaclinic.clinics.services import clinic_defaults_install
from tests.factories.base import next_number


def make_clinic(name: str = "North Shore Pain Clinic") -> Clinic:
    clinic = Clinic.objects.create(name=name, slug=f"clinic-{next_number()}")
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
