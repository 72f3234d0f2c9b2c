"""The personas every test shares (healthchecks style: Alice owns, Bob is another patient of the
same clinic, and Olga, a physician of another clinic, must see nothing of ours).

``tests/conftest.py`` hands the world out as the ``world`` fixture; the app areas' factories take
it so a test names only what differs from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ketaclinic.accounts.models import Role, User
from ketaclinic.clinics.models import Clinic, Location
from ketaclinic.patients.models import Patient
from tests.factories.accounts import make_user
from tests.factories.clinics import make_clinic, make_location
from tests.factories.patients import make_patient


@dataclass
class World:
    clinic: Clinic
    cleveland: Location
    charlotte: Location
    other_clinic: Clinic
    alice: User
    alice_patient: Patient
    bob: User
    bob_patient: Patient
    front_desk: User
    nurse: User
    physician: User
    clinic_admin: User
    other_physician: User
    other_patient: Patient

    def persona(self, name: str) -> User | None:
        return None if name == "anonymous" else getattr(self, name)


PERSONAS = (
    "anonymous",
    "alice",
    "bob",
    "front_desk",
    "nurse",
    "physician",
    "clinic_admin",
    "other_physician",
)


def make_world() -> World:
    clinic = make_clinic("Lakeshore Neuropathic Pain Clinic")
    cleveland = make_location(clinic, "Cleveland")
    charlotte = make_location(clinic, "Charlotte", chairs=1)
    other = make_clinic("Elsewhere Pain Center")
    other_site = make_location(other, "Akron")
    alice = make_user(clinic, Role.PATIENT, email="alice@example.test", name="Alice Moreno")
    bob = make_user(clinic, Role.PATIENT, email="bob@example.test", name="Bob Kowalski")
    alice_patient = make_patient(
        clinic, given="Alice", family="Moreno", user=alice, location=cleveland
    )
    bob_patient = make_patient(
        clinic, given="Bob", family="Kowalski", user=bob, location=charlotte, sex="male"
    )
    other_physician = make_user(
        other,
        Role.PHYSICIAN,
        email="olga@elsewhere.test",
        name="Dr. Olga Other",
        locations=(other_site,),
    )
    return World(
        clinic=clinic,
        cleveland=cleveland,
        charlotte=charlotte,
        other_clinic=other,
        alice=alice,
        alice_patient=alice_patient,
        bob=bob,
        bob_patient=bob_patient,
        front_desk=make_user(
            clinic,
            Role.FRONT_DESK,
            email="desk@example.test",
            name="Dana Desk",
            locations=(cleveland, charlotte),
        ),
        nurse=make_user(
            clinic,
            Role.NURSE,
            email="nurse@example.test",
            name="Nina Nurse",
            locations=(cleveland,),
        ),
        physician=make_user(
            clinic,
            Role.PHYSICIAN,
            email="doc@example.test",
            name="Dr. Paul Physician",
            locations=(cleveland, charlotte),
        ),
        clinic_admin=make_user(
            clinic, Role.CLINIC_ADMIN, email="admin@example.test", name="Ada Admin"
        ),
        other_physician=other_physician,
        other_patient=make_patient(other, given="Oscar", family="Other"),
    )
