"""The clinic's directory: Organization (the clinic), Location (its sites), Practitioner and
PractitionerRole (its staff). No patient data: reading them leaves no audit event. A reader
sees her own clinic's directory only."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from ketaclinic.accounts.models import STAFF_ROLES, Role, User
from ketaclinic.clinics.models import Clinic, Location
from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.resources.base import ResourceType, pruned, reference
from ketaclinic.fhir.search import Param, ids, strings, tokens

# HL7's practitioner-role codes (http://terminology.hl7.org/CodeSystem/practitioner-role) where
# one fits; every role is also given in the clinic's own words.
HL7_ROLE_SYSTEM = "http://terminology.hl7.org/CodeSystem/practitioner-role"
HL7_ROLES = {Role.PHYSICIAN: ("doctor", "Doctor"), Role.NURSE: ("nurse", "Nurse")}
ROLE_SYSTEM = "https://ketaclinic.org/fhir/CodeSystem/staff-role"


def _telecom(phone: str, email: str, use: str = "work") -> list[dict[str, str]]:
    found = []
    if phone:
        found.append({"system": "phone", "value": phone, "use": use})
    if email:
        found.append({"system": "email", "value": email, "use": use})
    return found


# --- Organization -----------------------------------------------------------------------------


def _clinics(reader: FhirReader) -> QuerySet[Clinic]:
    return Clinic.objects.filter(pk=reader.clinic_id)


def organization(clinic: Clinic) -> dict[str, Any]:
    return pruned(
        {
            "resourceType": "Organization",
            "id": str(clinic.public_id),
            "active": True,
            "type": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/organization-type",
                            "code": "prov",
                            "display": "Healthcare Provider",
                        }
                    ]
                }
            ],
            "name": clinic.name,
            "telecom": _telecom(clinic.phone, clinic.public_email),
            "address": [{"text": clinic.postal_address}] if clinic.postal_address else [],
        }
    )


ORGANIZATION = ResourceType(
    name="Organization",
    rows=_clinics,
    to_fhir=organization,
    params={"name": Param("string", strings("name"), "The clinic's name, from its start.")},
    doc="The clinic.",
)


# --- Location ---------------------------------------------------------------------------------


def _locations(reader: FhirReader) -> QuerySet[Location]:
    return Location.objects.filter(clinic_id=reader.clinic_id).select_related("clinic")


def location(site: Location) -> dict[str, Any]:
    return pruned(
        {
            "resourceType": "Location",
            "id": str(site.public_id),
            "status": "active",
            "name": site.name,
            "mode": "instance",
            "telecom": _telecom(site.phone, site.email),
            "address": {
                "use": "work",
                "line": [site.address] if site.address else [],
                "city": site.city,
                "state": site.region,
            },
            "managingOrganization": reference("Organization", site.clinic),
        }
    )


LOCATION = ResourceType(
    name="Location",
    rows=_locations,
    to_fhir=location,
    params={
        "name": Param("string", strings("name"), "The site's name, from its start."),
        "address-city": Param("string", strings("city"), "The site's city, from its start."),
        "organization": Param(
            "reference", ids("clinic__public_id"), "Organization/[id].", ("Organization",)
        ),
    },
    doc="The clinic's sites.",
)


# --- Practitioner and PractitionerRole --------------------------------------------------------


def _staff(reader: FhirReader) -> QuerySet[User]:
    return (
        User.objects.filter(clinic_id=reader.clinic_id, role__in=STAFF_ROLES)
        .select_related("clinic")
        .prefetch_related("locations")
    )


def practitioner(user: User) -> dict[str, Any]:
    return pruned(
        {
            "resourceType": "Practitioner",
            "id": str(user.public_id),
            "active": user.is_active,
            "name": [{"text": user.full_name or user.email}],
            "telecom": _telecom("", user.email),
        }
    )


def practitioner_role(user: User) -> dict[str, Any]:
    role = Role(user.role)
    codings = [{"system": ROLE_SYSTEM, "code": role.value, "display": str(role.label)}]
    if role in HL7_ROLES:
        code, display = HL7_ROLES[role]
        codings.insert(0, {"system": HL7_ROLE_SYSTEM, "code": code, "display": display})
    return pruned(
        {
            "resourceType": "PractitionerRole",
            "id": str(user.public_id),
            "active": user.is_active,
            "practitioner": reference("Practitioner", user),
            "organization": reference("Organization", user.clinic),
            "code": [{"coding": codings, "text": str(role.label)}],
            "location": [reference("Location", site) for site in user.locations.all()],
        }
    )


_ROLE_CODES = {
    **{code: role.value for role, (code, _) in HL7_ROLES.items()},
    **{role.value: role.value for role in Role if role in STAFF_ROLES},
}

PRACTITIONER = ResourceType(
    name="Practitioner",
    rows=_staff,
    to_fhir=practitioner,
    params={
        "name": Param("string", strings("full_name"), "The person's name, from its start."),
        "active": Param(
            "token", tokens("is_active", {"true": True, "false": False}), "true|false."
        ),
    },
    doc="The clinic's staff.",
)

PRACTITIONER_ROLE = ResourceType(
    name="PractitionerRole",
    rows=_staff,
    to_fhir=practitioner_role,
    params={
        "practitioner": Param(
            "reference", ids("public_id"), "Practitioner/[id].", ("Practitioner",)
        ),
        "role": Param("token", tokens("role", _ROLE_CODES), "doctor, nurse, or a staff role."),
        "location": Param(
            "reference", ids("locations__public_id"), "Location/[id].", ("Location",)
        ),
    },
    doc="What each staff member does, and where.",
)
