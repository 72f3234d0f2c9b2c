"""Provenance: who signed what, and when. One per signed record, with the record's public id as
its id (ids are per type): a consultation (target the Encounter of the visit), a comprehensive
plan (its CarePlan, and its MedicationRequest when it has a ketamine protocol) and an infusion
session (its Encounter). The signature is the physician's legal authentication of the record
(R4's provenance activity ``LA`` and agent type ``legal``).

Eligibility decisions are signed too, but the API serves no resource for a decision, and a
Provenance must target one: they are left out until one is served.

Clinical notes: the clinic's clinical staff and backend systems; not the patient nor the front
desk (``FhirReader.chart_patients``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet

from ketaclinic.assessments.models import Consultation
from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.resources.base import ResourceType, instant, pruned, reference
from ketaclinic.fhir.search import PATIENT, Filter, Param, dates, ids
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.lib.models import SignedRecord
from ketaclinic.plans.api import protocol_of
from ketaclinic.plans.models import Plan

# http://hl7.org/fhir/ValueSet/provenance-activity-type (R4) takes this code for a signature:
# "legally authenticated", signed by the person legally responsible for the record.
ACTIVITY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/v3-DocumentCompletion",
            "code": "LA",
            "display": "legally authenticated",
        }
    ]
}
# http://hl7.org/fhir/ValueSet/provenance-agent-type (R4): the one who authenticated the content
# and accepted legal responsibility for it.
SIGNER = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
            "code": "legal",
            "display": "Legal Authenticator",
        }
    ]
}


def _signed(rows: QuerySet[Any], reader: FhirReader, *related: str) -> QuerySet[Any]:
    # Signed rows only: a draft has no signature to give account of.
    return rows.filter(
        clinic_id=reader.clinic_id,
        patient__in=reader.chart_patients(),
        signed_at__isnull=False,
    ).select_related("patient__clinic", "signed_by", *related)


def _provenance(
    row: SignedRecord, targets: list[dict[str, str] | None], **more: Any
) -> dict[str, Any]:
    assert row.signed_at is not None
    return pruned(
        {
            "resourceType": "Provenance",
            "id": str(row.public_id),  # type: ignore[attr-defined]
            # A signature never changes: the record is locked once signed.
            "meta": {"lastUpdated": instant(row.signed_at)},
            "target": targets,
            "recorded": instant(row.signed_at),
            "activity": ACTIVITY,
            "agent": [{"type": SIGNER, "who": reference("Practitioner", row.signed_by)}],
            **more,
        }
    )


def _consultation(row: Consultation) -> dict[str, Any]:
    return _provenance(row, [reference("Encounter", row)])


def _plan(row: Plan) -> dict[str, Any]:
    targets = [reference("CarePlan", row)]
    if protocol_of(row) is not None:
        # One signature signs the plan and its protocol.
        targets.append(reference("MedicationRequest", row))
    return _provenance(row, targets)


def _session(row: InfusionSession) -> dict[str, Any]:
    return _provenance(
        row, [reference("Encounter", row)], location=reference("Location", row.location)
    )


def _targets(*types: str) -> Filter:
    """``target``: ``Type/id`` (or a bare id) of a record of one of the table's target types."""

    def apply(qs: QuerySet[Any], given: list[str]) -> QuerySet[Any]:
        keys = []
        for value in given:
            parts = value.rstrip("/").split("/")
            if len(parts) > 1 and parts[-2] not in types:
                continue  # another type's resource: none of this table's records
            try:
                keys.append(uuid.UUID(parts[-1]))
            except ValueError:
                continue
        return qs.filter(public_id__in=keys)

    return apply


def _params(*types: str) -> dict[str, Param]:
    return {
        "patient": Param("reference", ids("patient__public_id"), "Patient/[id].", PATIENT),
        "target": Param(
            "reference",
            _targets(*types),
            "The signed record: Encounter/[id] (a visit or an infusion session), CarePlan/[id]"
            " or MedicationRequest/[id].",
            # Every table's, so that each reads ``:CarePlan`` alike (its own finds none).
            ("Encounter", "CarePlan", "MedicationRequest"),
        ),
        "agent": Param(
            "reference",
            ids("signed_by__public_id"),
            "Practitioner/[id] (who signed).",
            ("Practitioner",),
        ),
        "recorded": Param("date", dates("signed_at", param="recorded"), "When it was signed."),
    }


def _kind(
    rows: Callable[[FhirReader], QuerySet[Any]],
    to_fhir: Callable[[Any], dict[str, Any]],
    *types: str,
    more: tuple[ResourceType, ...] = (),
) -> ResourceType:
    return ResourceType(
        name="Provenance",
        rows=rows,
        to_fhir=to_fhir,
        params=_params(*types),
        updated_field="signed_at",
        patient_of=lambda row: row.patient,
        doc=(
            "Who signed what, when: each signed consultation, plan and infusion session."
            " (Eligibility decisions are not served, so their signatures are not either.)"
        ),
        more=more,
    )


PLAN_SIGNATURES = _kind(
    lambda reader: _signed(Plan.objects.all(), reader, "protocol"),
    _plan,
    "CarePlan",
    "MedicationRequest",
)
SESSION_SIGNATURES = _kind(
    lambda reader: _signed(InfusionSession.objects.all(), reader, "location"), _session, "Encounter"
)
PROVENANCE = _kind(
    lambda reader: _signed(Consultation.objects.all(), reader),
    _consultation,
    "Encounter",
    more=(PLAN_SIGNATURES, SESSION_SIGNATURES),
)
