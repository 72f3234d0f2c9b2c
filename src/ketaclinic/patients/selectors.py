"""Reads of patient records for pages and APIs: bounded queries, and every read audited."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q, QuerySet

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.patients.access import access_patient, patients_visible_to
from ketaclinic.patients.models import Patient

PAGE_SIZE = 50


def patient_search(*, actor: Actor, query: str = "", limit: int = PAGE_SIZE) -> list[Patient]:
    """The staff patient list: one query for the rows, one audit event for the list read."""
    assert actor.user is not None
    qs: QuerySet[Patient] = patients_visible_to(actor.user).select_related("home_location")
    query = query.strip()
    if query:
        terms = Q()
        for word in query.split():
            terms &= (
                Q(given_name__icontains=word)
                | Q(family_name__icontains=word)
                | Q(mrn__iexact=word)
                | Q(email__iexact=word)
            )
        qs = qs.filter(terms)
    with transaction.atomic():
        rows = list(qs[:limit])
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="patient_list",
            # The search text may be a name: count the results, do not store the query.
            detail={"results": len(rows), "searched": bool(query)},
        )
    return rows


def patient_detail(*, actor: Actor, public_id: str, clinical: bool = False) -> Patient:
    assert actor.user is not None
    with transaction.atomic():
        patient = access_patient(actor.user, public_id, for_write=False, clinical=clinical)
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="patient",
            object_id=patient.public_id,
            patient=patient,
        )
    return patient
