"""Reads of patient records for pages and APIs: bounded queries, and every read audited."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.paginator import Page
from django.db import transaction
from django.db.models import Q, QuerySet

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.lib.paging import numbered_page
from ketaclinic.patients.access import access_patient, patients_visible_to
from ketaclinic.patients.models import Patient
from ketaclinic.patients.search import PatientQuery, parse_patient_query

PAGE_SIZE = 50
# The staff patient list: a page the desk reads without scrolling far.
LIST_PAGE_SIZE = 25


def _matching(qs: QuerySet[Patient], query: PatientQuery) -> QuerySet[Patient]:
    """The patients matching every part of the search (one filter, no extra query)."""
    if query.date_of_birth is not None:
        qs = qs.filter(date_of_birth=query.date_of_birth)
    if query.phones:
        qs = qs.filter(phone_digits__in=query.phones)
    for email in query.emails:
        qs = qs.filter(email__iexact=email)
    for word in query.words:
        qs = qs.filter(
            Q(given_name__icontains=word)
            | Q(family_name__icontains=word)
            # Record numbers are stored upper case (services._new_mrn): an exact, indexed match.
            | Q(mrn=word.upper())
            | Q(email__iexact=word)
        )
    return qs


def patient_search(*, actor: Actor, query: str = "", limit: int = PAGE_SIZE) -> list[Patient]:
    """Patients matching the text (the schedule's quick find): one query for the rows, one audit
    event. Text with a malformed date finds nobody."""
    assert actor.user is not None
    qs: QuerySet[Patient] = patients_visible_to(actor.user).select_related("home_location")
    query = query.strip()
    try:
        parsed = parse_patient_query(query)
    except ValidationError:
        qs = qs.none()
    else:
        qs = _matching(qs, parsed)
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


def patient_find(
    *, actor: Actor, query: PatientQuery, page: str | int = 1, per_page: int = LIST_PAGE_SIZE
) -> Page[Patient]:
    """One page of the clinic's patients matching ``query`` (all of them without one), with the
    number that match: a count, one query for the rows and one audit event, however many
    patients the clinic has. A page number past the end shows the last page."""
    assert actor.user is not None
    qs = _matching(patients_visible_to(actor.user), query).select_related("home_location")
    with transaction.atomic():
        # Read inside the transaction, with the audit event of reading them (lib/paging.py).
        found = numbered_page(qs, page, per_page=per_page)
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="patient_list",
            # Counts and what the search was by, never the text (it may be a name or a phone).
            detail={
                "results": found.paginator.count,
                "searched": bool(query),
                "by": query.kinds,
                "page": found.number,
            },
        )
    return found


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
