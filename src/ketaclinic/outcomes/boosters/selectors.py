"""Reads of the booster loop: the relapse a suggestion is made from, the physician's queue
and one suggestion's page (audited) and the patient's open offers.

The relapse comes only from ``ketaclinic.clinical.outcomes.durability`` (through
``outcomes.selectors.series_outcomes``), read from the same diary data the chart shows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinical import outcomes as clinical_outcomes
from ketaclinic.clinics.models import Clinic
from ketaclinic.outcomes.models import BoosterStatus, BoosterSuggestion
from ketaclinic.outcomes.selectors import diary_unaudited
from ketaclinic.patients.models import Patient


@dataclass(frozen=True)
class Relapse:
    series_end: dt.date
    relapse_date: dt.date
    baseline: float
    window_means: dict[str, float]


def relapse_for_patient(patient: Patient) -> Relapse | None:
    """The relapse ``durability`` reports for the patient's latest series, if any."""
    view = diary_unaudited(patient, now=None)
    if not view.outcomes or view.baseline is None:
        return None
    latest = view.outcomes[-1]
    if latest.durability is None or latest.durability.relapse_date is None:
        return None
    relapse = latest.durability.relapse_date
    means = clinical_outcomes.relapse_window_means(
        entries=view.nrs, series_end=latest.span.end, relapse_date=relapse
    )
    shown = {day.isoformat(): round(mean, 2) for day, mean in means.items()}
    return Relapse(latest.span.end, relapse, view.baseline, shown)


def booster_queue(*, actor: Actor, clinic_id: int) -> list[BoosterSuggestion]:
    """Open suggestions of the clinic, oldest relapse first (one query, one audit event)."""
    with transaction.atomic():
        rows = list(boosters_to_review(clinic_id=clinic_id))
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="booster_queue",
            detail={"open": len(rows)},
            clinic=Clinic(pk=clinic_id),
        )
    return rows


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
