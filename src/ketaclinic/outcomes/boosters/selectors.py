"""Reads of the booster loop: the relapse a suggestion is made from, the physician's queue
and one suggestion's page (audited) and the patient's open offers.

The relapse comes only from ``ketaclinic.clinical.outcomes.durability`` (through
``outcomes.selectors.series_outcomes``), read from the same diary data the chart shows.
"""

from __future__ import annotations

from django.core.paginator import Page
from django.db import transaction
from django.db.models import QuerySet

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinics.models import Clinic
from ketaclinic.lib.paging import numbered_page
from ketaclinic.outcomes.models import BoosterStatus, BoosterSuggestion
from ketaclinic.outcomes.selectors import Relapse, diary_unaudited, latest_relapse
from ketaclinic.patients.models import Patient


def relapse_for_patient(patient: Patient) -> Relapse | None:
    """The relapse ``durability`` reports for the patient's latest series, if any."""
    view = diary_unaudited(patient, now=None)
    return latest_relapse(nrs=view.nrs, outcomes=view.outcomes, baseline=view.baseline)


# The physician's queue, a page at a time: a chain's queue runs to a thousand open suggestions
# after a quiet week, too long to read (and to send) as one page.
QUEUE_PAGE_SIZE = 50


def booster_queue(
    *, actor: Actor, clinic_id: int, page: str | int | None = 1
) -> Page[BoosterSuggestion]:
    """One page of the clinic's open suggestions, oldest relapse first, with how many are open:
    the count, one query for the rows and one audit event, however long the queue. ``page`` as
    the query string gave it: past the end shows the last page, not a number the first."""
    with transaction.atomic():
        found = numbered_page(
            boosters_to_review(clinic_id=clinic_id), page, per_page=QUEUE_PAGE_SIZE
        )
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="booster_queue",
            detail={"open": found.paginator.count, "page": found.number},
            clinic=Clinic(pk=clinic_id),
        )
    return found


def booster_suggestion_read(
    *, actor: Actor, suggestion: BoosterSuggestion, audience: str
) -> BoosterSuggestion:
    """One suggestion's page (``audience``: "physician" deciding it or "patient" booking the
    offer): one read event naming the patient. The caller has authorized ``actor`` for it."""
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="booster_suggestion",
            object_id=suggestion.public_id,
            patient=suggestion.patient,
            detail={"audience": audience, "status": suggestion.status},
        )
    return suggestion


def booster_offers_for_patient(*, patient: Patient) -> list[BoosterSuggestion]:
    """Approved boosters not yet booked: the notice in the patient's portal."""
    return list(
        BoosterSuggestion.objects.filter(patient=patient, status=BoosterStatus.APPROVED).order_by(
            "-decided_at"
        )
    )


def boosters_to_review(*, clinic_id: int) -> QuerySet[BoosterSuggestion]:
    """Open suggestions of the clinic, oldest relapse first (lazy, unaudited): the physician's
    worklist, whose page writes one read event for all it shows. ``booster_queue`` is the
    audited page of the same rows."""
    return (
        BoosterSuggestion.objects.filter(clinic_id=clinic_id, status=BoosterStatus.OPEN)
        .select_related("patient")
        .order_by("relapse_date", "pk")
    )
