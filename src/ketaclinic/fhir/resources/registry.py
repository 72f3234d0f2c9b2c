"""Every resource type the API serves, by name."""

from __future__ import annotations

from ketaclinic.fhir.resources.appointment import APPOINTMENT
from ketaclinic.fhir.resources.base import ResourceType
from ketaclinic.fhir.resources.directory import (
    LOCATION,
    ORGANIZATION,
    PRACTITIONER,
    PRACTITIONER_ROLE,
)
from ketaclinic.fhir.resources.observation import OBSERVATION
from ketaclinic.fhir.resources.patient import PATIENT

REGISTRY: dict[str, ResourceType] = {
    kind.name: kind
    for kind in (
        APPOINTMENT,
        LOCATION,
        OBSERVATION,
        ORGANIZATION,
        PATIENT,
        PRACTITIONER,
        PRACTITIONER_ROLE,
    )
}
