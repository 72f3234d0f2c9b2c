"""The patient chart: one page, one timeline of everything that happened to a patient.

Each source contributes its rows with a fixed number of queries (one, or one plus a
``select_related``), so the chart costs the same whatever the length of the history. The front
desk sees the demographic sources only (appointments); clinical sources need clinical access.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.urls import reverse

from ketaclinic.accounts.models import CLINICAL_ROLES
from ketaclinic.audit.models import Action
from ketaclinic.audit.services import Actor, audit_record
from ketaclinic.patients.access import access_patient
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.models import Appointment
from ketaclinic.screening.models import SelfCheck


@dataclass(frozen=True)
class TimelineEntry:
    when: dt.datetime
    kind: str  # a short key for styling and filtering: selfcheck, visit, exam, decision, ...
    label: str  # what kind of thing it is, for people
    title: str
    detail: str = ""
    url: str = ""


@dataclass
class Chart:
    patient: Patient
    clinical: bool
    entries: list[TimelineEntry] = field(default_factory=list)


Source = Callable[[Patient], list[TimelineEntry]]


def _selfchecks(patient: Patient) -> list[TimelineEntry]:
    rows = []
    for check in SelfCheck.objects.filter(patient=patient).only(
        "created_at", "scores", "chronic", "red_flags"
    ):
        positives = [code for code, score in check.scores.items() if score.get("positive")]
        detail = f"Positive screens: {', '.join(positives)}" if positives else "No positive screen"
        if check.red_flags:
            detail += " · red flag answered"
        rows.append(
            TimelineEntry(
                when=check.created_at,
                kind="selfcheck",
                label="Self-check",
                title="Chronic pain" if check.chronic else "Pain of 3 months or less",
                detail=detail,
            )
        )
    return rows


def _appointments(patient: Patient) -> list[TimelineEntry]:
    rows = []
    for appointment in Appointment.objects.filter(patient=patient).select_related(
        "type", "provider", "location"
    ):
        rows.append(
            TimelineEntry(
                when=appointment.start,
                kind="visit",
                label=appointment.type.get_kind_display(),
                title=f"{appointment.type.name} with {appointment.provider.display_name}",
                detail=f"{appointment.location.name} · {appointment.get_status_display()}",
                url=reverse(
                    "scheduling:desk_appointment", kwargs={"public_id": appointment.public_id}
                ),
            )
        )
    return rows


# Sources anyone on the staff may see, and those that need clinical access.
DEMOGRAPHIC_SOURCES: list[Source] = [_appointments]
CLINICAL_SOURCES: list[Source] = [_selfchecks]


def patient_chart(*, actor: Actor, public_id: str) -> Chart:
    """The chart of one patient of the actor's clinic, newest first; one audit event."""
    assert actor.user is not None
    clinical = actor.user.role in CLINICAL_ROLES
    with transaction.atomic():
        patient = access_patient(actor.user, public_id, for_write=False)
        sources = DEMOGRAPHIC_SOURCES + (CLINICAL_SOURCES if clinical else [])
        entries = [entry for source in sources for entry in source(patient)]
        entries.sort(key=lambda entry: entry.when, reverse=True)
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="patient_chart",
            object_id=patient.public_id,
            patient=patient,
            detail={"entries": len(entries), "clinical": clinical},
        )
    return Chart(patient=patient, clinical=clinical, entries=entries)
