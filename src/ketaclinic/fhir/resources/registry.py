"""Every resource type the API serves, by name.

A type whose resources live in several tables is one ``ResourceType`` with the further tables
in ``more`` (see ``base.ResourceType``): the Observation is the diary's, and more join it here.
"""

from __future__ import annotations

import dataclasses

from ketaclinic.fhir.resources.adverse_event import ADVERSE_EVENT
from ketaclinic.fhir.resources.appointment import APPOINTMENT
from ketaclinic.fhir.resources.audit_event import AUDIT_EVENT
from ketaclinic.fhir.resources.base import ResourceType
from ketaclinic.fhir.resources.careplan import CAREPLAN
from ketaclinic.fhir.resources.chart_observation import CHART_OBSERVATION
from ketaclinic.fhir.resources.condition import CONDITION
from ketaclinic.fhir.resources.directory import (
    LOCATION,
    ORGANIZATION,
    PRACTITIONER,
    PRACTITIONER_ROLE,
)
from ketaclinic.fhir.resources.document_reference import DOCUMENT_REFERENCE
from ketaclinic.fhir.resources.encounter import ENCOUNTER
from ketaclinic.fhir.resources.exam_observation import EXAM_OBSERVATION
from ketaclinic.fhir.resources.medication_administration import MEDICATION_ADMINISTRATION
from ketaclinic.fhir.resources.medication_request import MEDICATION_REQUEST
from ketaclinic.fhir.resources.observation import OBSERVATION as DIARY_OBSERVATION
from ketaclinic.fhir.resources.patient import PATIENT
from ketaclinic.fhir.resources.provenance import PROVENANCE
from ketaclinic.fhir.resources.questionnaire import QUESTIONNAIRE
from ketaclinic.fhir.resources.questionnaire_response import QUESTIONNAIRE_RESPONSE
from ketaclinic.fhir.resources.schedule import SCHEDULE
from ketaclinic.fhir.resources.slot import SLOT

# Observations: the diary's first, then each further table's.
OBSERVATION = dataclasses.replace(DIARY_OBSERVATION, more=(CHART_OBSERVATION, EXAM_OBSERVATION))

REGISTRY: dict[str, ResourceType] = {
    kind.name: kind
    for kind in (
        ADVERSE_EVENT,
        APPOINTMENT,
        AUDIT_EVENT,
        CAREPLAN,
        CONDITION,
        DOCUMENT_REFERENCE,
        ENCOUNTER,
        LOCATION,
        MEDICATION_ADMINISTRATION,
        MEDICATION_REQUEST,
        OBSERVATION,
        ORGANIZATION,
        PATIENT,
        PRACTITIONER,
        PRACTITIONER_ROLE,
        PROVENANCE,
        QUESTIONNAIRE,
        QUESTIONNAIRE_RESPONSE,
        SCHEDULE,
        SLOT,
    )
}
