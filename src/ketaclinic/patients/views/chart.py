"""The patient chart: one page, one timeline of everything that happened to a patient.

Each source contributes its rows with a fixed number of queries (one, or one plus a
``select_related``), so the chart costs the same whatever the length of the history. The front
desk sees the demographic sources only (appointments); clinical sources need clinical access.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from django.conf import settings
from django.db import transaction
from django.db.models import Avg, Count, Max
from django.db.models.functions import TruncMonth
from django.urls import reverse
from django.utils import timezone

from ketaclinic.accounts.models import CLINICAL_ROLES
from ketaclinic.assessments.api import consultations_of, eligibility_in_force_for
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinical.gates import InForce
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.outcomes.models import DiaryEntry, Instrument
from ketaclinic.patients.access import access_patient
from ketaclinic.patients.models import Patient
from ketaclinic.plans.api import protocol_of
from ketaclinic.plans.models import Plan, PlanStatus
from ketaclinic.scheduling.api import visits_split
from ketaclinic.scheduling.models import Appointment, SeriesStatus
from ketaclinic.screening.models import SelfCheck


@dataclass(frozen=True)
class TimelineEntry:
    when: dt.datetime
    kind: str  # a short key for styling and filtering: selfcheck, visit, exam, decision, ...
    label: str  # what kind of thing it is, for people
    title: str
    detail: str = ""
    url: str = ""
    # The zone the time is read in: the visit's location; otherwise the patient's usual one.
    zone: str = ""
    # A visit still to come (listed apart, soonest first).
    coming: bool = False


@dataclass
class Chart:
    patient: Patient
    clinical: bool
    entries: list[TimelineEntry] = field(default_factory=list)
    # Visits still to come, soonest first; the timeline holds the rest, newest first.
    coming: list[TimelineEntry] = field(default_factory=list)
    # A signed plan with no booked series: the desk books its induction series from the chart,
    # since the plan's clinical content is not theirs to read.
    plan_to_book: str | None = None
    # The eligibility decision in force today (gate 1): whether ketamine may be planned, booked
    # and given. The desk sees the verdict, clinicians also its reasons.
    in_force: InForce | None = None


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


def _home_zone(patient: Patient) -> str:
    home = patient.home_location
    return home.time_zone if home is not None else settings.TIME_ZONE


def _appointments(patient: Patient) -> list[TimelineEntry]:
    rows = []
    appointments = Appointment.objects.filter(patient=patient).select_related(
        "type", "provider", "location"
    )
    coming, past = visits_split(appointments, now=timezone.now())
    for appointment in coming + past:
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
                zone=appointment.location.time_zone,
                coming=appointment in coming,
            )
        )
    return rows


def _consultations(patient: Patient) -> list[TimelineEntry]:
    rows = []
    for consultation in consultations_of(patient=patient):
        url = reverse(
            "assessments:consultation_detail", kwargs={"public_id": consultation.public_id}
        )
        grade = (
            consultation.get_neuropathic_grade_display() if consultation.neuropathic_grade else ""
        )
        rows.append(
            TimelineEntry(
                when=consultation.created_at,
                kind="exam",
                label="Consultation",
                title=f"Consultation and exam ({consultation.get_status_display().lower()})",
                detail=f"NeuPSIG grade: {grade}" if grade else "",
                url=url,
            )
        )
        decision = getattr(consultation, "decision", None)
        if decision is not None and decision.signed_at is not None:
            outcome = decision.get_final_outcome_display()
            overridden = decision.final_outcome != decision.outcome
            rows.append(
                TimelineEntry(
                    when=decision.signed_at,
                    kind="decision",
                    label="Eligibility decision",
                    title=f"{outcome}{' (override)' if overridden else ''}",
                    detail=f"Rules said {decision.get_outcome_display().lower()}",
                    url=url,
                )
            )
    return rows


def _plans(patient: Patient) -> list[TimelineEntry]:
    rows = []
    for plan in Plan.objects.filter(patient=patient).select_related("protocol"):
        protocol = protocol_of(plan)
        rows.append(
            TimelineEntry(
                when=plan.signed_at or plan.created_at,
                kind="plan",
                label="Plan",
                title=f"Plan {plan.number} ({plan.get_status_display().lower()})",
                detail=str(protocol) if protocol is not None else "No ketamine protocol",
                url=reverse("plans:plan_detail", kwargs={"plan_id": plan.public_id}),
            )
        )
    return rows


def _diary(patient: Patient) -> list[TimelineEntry]:
    # One row per month of daily pain scores, aggregated by the database: years of diary must
    # not make the chart long or slow.
    months = (
        DiaryEntry.objects.filter(patient=patient, instrument=Instrument.NRS)
        .annotate(month=TruncMonth("entry_date"))
        .values("month")
        .annotate(n=Count("id"), mean=Avg("score"), last=Max("entry_date"))
        .order_by("month")
    )
    url = reverse("outcomes:staff_patient_diary", kwargs={"public_id": patient.public_id})
    rows = []
    for month in months:
        last = month["last"]
        rows.append(
            TimelineEntry(
                when=timezone.make_aware(dt.datetime.combine(last, dt.time(23, 59))),
                kind="diary",
                label="Pain diary",
                title=f"{month['month']:%B %Y}: mean pain {month['mean']:.1f} / 10",
                detail=f"{month['n']} daily entr{'y' if month['n'] == 1 else 'ies'}",
                url=url,
            )
        )
    return rows


def _sessions(patient: Patient) -> list[TimelineEntry]:
    rows = []
    for session in InfusionSession.objects.filter(patient=patient).select_related(
        "location", "chair"
    ):
        where = session.location.name + (f" · {session.chair.name}" if session.chair else "")
        rows.append(
            TimelineEntry(
                when=session.started_at or session.arrived_at,
                kind="session",
                label="Infusion session",
                title=f"Infusion ({session.get_status_display().lower()})",
                detail=where,
                url=reverse("infusions:session", kwargs={"public_id": session.public_id}),
                zone=session.location.time_zone,
            )
        )
    return rows


# Sources anyone on the staff may see, and those that need clinical access.
DEMOGRAPHIC_SOURCES: list[Source] = [_appointments]
CLINICAL_SOURCES: list[Source] = [_selfchecks, _consultations, _plans, _sessions, _diary]


def patient_chart(*, actor: Actor, public_id: str) -> Chart:
    """The chart of one patient of the actor's clinic: the visits to come, soonest first, then
    the timeline, newest first; one audit event."""
    assert actor.user is not None
    clinical = actor.user.role in CLINICAL_ROLES
    with transaction.atomic():
        patient = access_patient(actor.user, public_id, for_write=False)
        sources = DEMOGRAPHIC_SOURCES + (CLINICAL_SOURCES if clinical else [])
        zone = _home_zone(patient)
        entries = [
            entry if entry.zone else replace(entry, zone=zone)
            for source in sources
            for entry in source(patient)
        ]
        # The visits to come keep their order (soonest first) above the timeline.
        coming = [entry for entry in entries if entry.coming]
        entries = sorted(
            (entry for entry in entries if not entry.coming),
            key=lambda entry: entry.when,
            reverse=True,
        )
        plan_to_book = (
            Plan.objects.filter(patient=patient, status=PlanStatus.SIGNED)
            .exclude(induction_series__status=SeriesStatus.BOOKED)
            .values_list("public_id", flat=True)
            .first()
        )
        in_force = eligibility_in_force_for(patient=patient, today=timezone.localdate())
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="patient_chart",
            object_id=patient.public_id,
            patient=patient,
            detail={"entries": len(coming) + len(entries), "clinical": clinical},
        )
    return Chart(
        patient=patient,
        clinical=clinical,
        entries=entries,
        coming=coming,
        plan_to_book=str(plan_to_book) if plan_to_book else None,
        in_force=in_force,
    )
