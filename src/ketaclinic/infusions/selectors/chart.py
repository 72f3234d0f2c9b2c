"""The session chart: everything its page shows in a bounded number of queries, and a patient's
list of sessions; both reads are audited."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from ketaclinic.accounts.models import Role, User
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinical import monitoring
from ketaclinic.clinics.api import clinic_policy_current
from ketaclinic.clinics.models import Chair, ClinicPolicy
from ketaclinic.infusions import charts
from ketaclinic.infusions.access import CHART_READERS, access_session, require_role
from ketaclinic.infusions.models import (
    AdverseEvent,
    Alert,
    ChartEntry,
    ControlledSubstanceRecord,
    DoseDeviation,
    EntryKind,
    InfusionSession,
    Observation,
    PreInfusionCheck,
    RateEvent,
    SessionStatus,
)
from ketaclinic.infusions.selectors.session import (
    current_plan,
    discharge_missing,
    given_mg_at,
    pump_stop_reason,
)
from ketaclinic.patients.api import access_patient
from ketaclinic.patients.models import Patient
from ketaclinic.plans.models import KetamineProtocol


@dataclass
class VitalsRow:
    entry: ChartEntry
    values: dict[str, str]


@dataclass
class SessionChart:
    session: InfusionSession
    policy: ClinicPolicy
    protocol: KetamineProtocol | None
    prechecks: list[PreInfusionCheck]
    vitals: list[VitalsRow]
    scales: list[VitalsRow]
    rate_events: list[RateEvent]
    alerts: list[Alert]
    adverse_events: list[AdverseEvent]
    controlled: ControlledSubstanceRecord | None
    addenda: Sequence[object]
    chairs: list[Chair]
    witnesses: list[User]
    now: dt.datetime
    given_mg: float | None
    vitals_overdue: bool
    vitals_due_at: dt.datetime | None
    discharge: monitoring.DischargeCheck | None
    curve: charts.SessionCurve | None
    stop_reason: str = ""
    deviations: list[DoseDeviation] = field(default_factory=list)
    # What discharge still waits for (gates 4, 6 and the discharge gate), while recovering.
    discharge_missing: list[monitoring.Finding] = field(default_factory=list)
    # Stretches of the infusion without vitals longer than twice the interval (gate 6).
    vitals_gaps: tuple[monitoring.VitalsGap, ...] = ()

    @property
    def open_deviations(self) -> list[DoseDeviation]:
        return [d for d in self.deviations if d.is_open]

    @property
    def latest_precheck(self) -> PreInfusionCheck | None:
        return self.prechecks[0] if self.prechecks else None

    @property
    def open_alerts(self) -> list[Alert]:
        return [a for a in self.alerts if a.is_open]


# Observation code -> the name a chart table shows it under.
_NAMES = {
    "8480-6": "systolic_bp",
    "8462-4": "diastolic_bp",
    "8867-4": "heart_rate",
    "59408-5": "spo2",
    "9279-1": "respiratory_rate",
    "72514-3": "pain_nrs",
    "rass": "rass",
    "moaas": "moaas",
    "cadss6": "cadss6",
    "aldrete": "aldrete",
}


def _values(observations: Sequence[Observation]) -> dict[str, str]:
    values: dict[str, str] = {}
    for obs in observations:
        number = obs.value.normalize()
        text = f"{number:f}"
        if obs.code == "rass" and number > 0:
            text = f"+{text}"
        values[_NAMES.get(obs.code, obs.code)] = text
    return values


def session_chart(
    *, actor: Actor, public_id: uuid.UUID | str, now: dt.datetime | None = None
) -> SessionChart:
    """Everything the chart page shows, in a bounded number of queries; the read is audited."""
    moment = now or timezone.now()
    with transaction.atomic():
        session = access_session(actor.user, public_id, for_write=False)
        prechecks = list(
            session.prechecks.select_related("recorded_by", "override_by").order_by(
                "-recorded_at", "-id"
            )
        )
        entries = list(
            session.entries.select_related("recorded_by").prefetch_related(
                Prefetch("observations", queryset=Observation.objects.order_by("id"))
            )
        )
        rate_events = list(session.rate_events.select_related("recorded_by"))
        alerts = list(session.alerts.select_related("acknowledged_by"))
        deviations = list(session.dose_deviations.select_related("reviewed_by"))
        adverse_events = list(session.adverse_events.select_related("recorded_by"))
        controlled = (
            ControlledSubstanceRecord.objects.filter(session=session)
            .select_related("drawn_by", "waste_witness", "reconciled_by")
            .first()
        )
        addenda = list(session.addenda.select_related("author"))
        chairs = list(Chair.objects.filter(location_id=session.location_id, is_active=True))
        witnesses = list(
            User.objects.filter(
                clinic_id=session.clinic_id,
                role__in=(Role.NURSE, Role.PHYSICIAN),
                is_active=True,
            ).order_by("full_name", "email")
        )
        policy = clinic_policy_current(clinic_id=session.clinic_id)
        plan = current_plan(session.patient) if session.started_at is None else None
        protocol = plan.protocol if plan is not None else None
        if protocol is None and session.plan_id is not None and session.started_at is not None:
            protocol = KetamineProtocol.objects.filter(plan_id=session.plan_id).first()
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="infusion_session",
            object_id=session.public_id,
            patient=session.patient,
        )
    rules = policy.monitoring_policy()
    vitals_rows = [
        VitalsRow(entry=e, values=_values(list(e.observations.all())))
        for e in entries
        if e.kind in (EntryKind.PRECHECK, EntryKind.VITALS)
    ]
    scale_rows = [
        VitalsRow(entry=e, values=_values(list(e.observations.all())))
        for e in entries
        if e.kind in (EntryKind.CADSS, EntryKind.RECOVERY)
    ]
    monitored = session.status in (SessionStatus.INFUSING, SessionStatus.RECOVERING)
    due = overdue = None
    if monitored and session.started_at is not None:
        due = monitoring.vitals_due_at(
            last_vitals_at=session.last_vitals_at,
            monitoring_since=session.started_at,
            policy=rules,
        )
        overdue = moment > due
    given = None
    if session.started_at is not None:
        given = given_mg_at(session, session.ended_at or moment)
    discharge = None
    missing: list[monitoring.Finding] = []
    if session.status == SessionStatus.RECOVERING:
        discharge = monitoring.discharge_check(
            aldrete_answers=session.aldrete_answers,
            escort_confirmed=True,
            infusion_ended_at=session.observed_from or session.ended_at,
            now=max(moment, session.observed_from or session.ended_at or moment),
            policy=rules,
        )
        missing = discharge_missing(session, rules=rules, now=moment)
    gaps: tuple[monitoring.VitalsGap, ...] = ()
    if session.started_at is not None and session.ended_at is not None:
        gaps = monitoring.vitals_gaps(
            taken=[row.entry.taken_at for row in vitals_rows if _is_vitals_set(row.values)],
            started_at=session.started_at,
            ended_at=session.ended_at,
            longer_than_min=2 * rules.vitals_interval_min,
        )
    curve = charts.session_curve(
        session=session, rate_events=rate_events, protocol=protocol, now=moment
    )
    return SessionChart(
        session=session,
        policy=policy,
        protocol=protocol,
        prechecks=prechecks,
        vitals=vitals_rows,
        scales=scale_rows,
        rate_events=rate_events,
        alerts=alerts,
        adverse_events=adverse_events,
        controlled=controlled,
        addenda=addenda,
        chairs=chairs,
        witnesses=witnesses,
        now=moment,
        given_mg=given,
        vitals_overdue=bool(overdue),
        vitals_due_at=due,
        discharge=discharge,
        curve=curve,
        stop_reason=pump_stop_reason(session, limits=policy.dose_limits(), now=moment),
        deviations=deviations,
        discharge_missing=missing,
        vitals_gaps=gaps,
    )


def _is_vitals_set(values: dict[str, str]) -> bool:
    # A set of vitals has a vital sign; pain or a sedation scale alone does not count (gate 6).
    return any(k in values for k in ("systolic_bp", "heart_rate", "spo2", "respiratory_rate"))


def patient_sessions(
    *, actor: Actor, public_id: uuid.UUID | str
) -> tuple[Patient, list[InfusionSession]]:
    """A patient's infusion sessions, newest first (for the link from the patient chart)."""
    user = require_role(actor.user, CHART_READERS)
    with transaction.atomic():
        patient = access_patient(user, public_id, for_write=False, clinical=True)
        sessions = list(
            InfusionSession.objects.filter(patient=patient)
            .select_related("location", "chair", "signed_by")
            .order_by("-arrived_at", "-id")[:200]
        )
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="infusion_session_list",
            object_id=patient.public_id,
            patient=patient,
            detail={"results": len(sessions)},
        )
    return patient, sessions
