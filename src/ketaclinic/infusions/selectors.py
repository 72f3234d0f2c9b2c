"""Reads for the chair board and the session chart: a fixed number of queries, every read
audited (they show patient data).

The board's query count does not grow with the number of chairs or sessions: the location's
chairs, today's sessions (with their open alerts, one prefetch), today's expected appointments
and the clinic policy are one query each; the state of each session (paused, overdue vitals,
ready for discharge) is computed from the session row's own denormalised fields by the pure
rules of ``clinical.monitoring``.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Prefetch, Q
from django.utils import timezone

from ketaclinic.accounts.models import Role, User
from ketaclinic.assessments.selectors import eligibility_in_force_for_patients
from ketaclinic.audit.models import Action
from ketaclinic.audit.services import Actor, audit_record
from ketaclinic.clinical import charting, monitoring
from ketaclinic.clinical.dosing import DoseLimits
from ketaclinic.clinical.gates import InForce
from ketaclinic.clinical.monitoring import MonitoringPolicy
from ketaclinic.clinics.models import Chair, ClinicPolicy, Location
from ketaclinic.clinics.selectors import clinic_policy_current
from ketaclinic.infusions import charts
from ketaclinic.infusions.access import (
    BOARD_CLINICAL,
    BOARD_VIEWERS,
    CHART_READERS,
    access_location,
    access_session,
    require_role,
)
from ketaclinic.infusions.models import (
    ACTIVE_STATUSES,
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
from ketaclinic.lib.views import user_clinic_id
from ketaclinic.patients.access import access_patient
from ketaclinic.patients.models import Patient
from ketaclinic.plans.models import KetamineProtocol, Plan, PlanStatus
from ketaclinic.scheduling.models import Appointment, AppointmentKind, AppointmentStatus

STATE_LABELS = {
    "expected": "Expected",
    "arrived": "Arrived",
    "precheck": "Pre-check",
    "infusing": "Infusing",
    "paused": "Infusing (paused)",
    "recovering": "Recovering",
    "ready": "Ready for discharge",
    "discharged": "Discharged",
    "deferred": "Deferred",
}


# Two reads the services share with the board and the chart: the plan a session runs on, and
# the dose given so far. They live here because services may import selectors, never the
# reverse (the layers contract in pyproject.toml).


def current_plan(patient: Patient) -> Plan | None:
    """The patient's signed plan with a ketamine protocol, or None (one signed plan at most)."""
    return (
        Plan.objects.filter(patient=patient, status=PlanStatus.SIGNED, protocol__isnull=False)
        .select_related("protocol")
        .first()
    )


def given_mg_at(session: InfusionSession, at: dt.datetime) -> float:
    """The running total given by ``at``, from the current rate and what was given before it."""
    if session.rate_since is None or session.current_rate_mg_per_h is None:
        return session.given_before_mg
    minutes = max((at - session.rate_since).total_seconds() / 60, 0.0)
    return session.given_before_mg + monitoring.infused_mg(
        [(0.0, minutes, session.current_rate_mg_per_h)]
    )


def _day_bounds(location: Location, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    tz = zoneinfo.ZoneInfo(location.time_zone)
    day = now.astimezone(tz).date()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    return start, start + dt.timedelta(days=1)


# -- the board ---------------------------------------------------------------------------------


@dataclass
class BoardItem:
    state: str
    patient: Patient
    time: dt.datetime
    appointment: Appointment | None = None
    session: InfusionSession | None = None
    minutes_since_vitals: int | None = None
    vitals_overdue: bool = False
    alerts: list[Alert] = field(default_factory=list)
    given_mg: float | None = None
    waiting_for: list[str] = field(default_factory=list)
    # Set while the pump runs although it may no longer (``pump_stop_reason``).
    stop_reason: str = ""
    # Dose deviations not yet reviewed (gate 4): on the board until a physician reviews them.
    open_deviations: int = 0
    # The eligibility decision in force today (gate 1), so a nurse sees it before the pre-check.
    in_force: InForce | None = None

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def is_active(self) -> bool:
        return self.state not in ("expected", "discharged", "deferred")


@dataclass
class ChairRow:
    chair: Chair
    items: list[BoardItem]

    @property
    def occupied(self) -> bool:
        return any(item.is_active for item in self.items)


@dataclass
class Board:
    location: Location
    locations: list[Location]
    rows: list[ChairRow]
    unplaced: list[BoardItem]
    clinical: bool
    now: dt.datetime
    interval_min: int

    @property
    def chairs(self) -> list[Chair]:
        return [row.chair for row in self.rows]

    @property
    def free_chairs(self) -> list[Chair]:
        return [row.chair for row in self.rows if not row.occupied]

    @property
    def open_alerts(self) -> int:
        items = [i for row in self.rows for i in row.items] + self.unplaced
        return sum(len(i.alerts) for i in items)


def pump_stop_reason(session: InfusionSession, *, limits: DoseLimits, now: dt.datetime) -> str:
    """Why a running pump must stop now, or "": the plan's total has been given, or the amount
    given is past the clinic's limits (``clinical.monitoring.infusion_rate_check`` on the
    current rate). The services refuse any new rate then; this flags the pump still running."""
    if session.status != SessionStatus.INFUSING or not session.current_rate_mg_per_h:
        return ""
    plan_rate, plan_total = session.plan_rate_mg_per_h, session.plan_total_mg
    weight = session.dosing_weight_kg
    if plan_rate is None or plan_total is None or weight is None:
        return ""
    given = given_mg_at(session, now)
    try:
        monitoring.infusion_rate_check(
            rate_mg_per_h=session.current_rate_mg_per_h,
            plan_rate_mg_per_h=plan_rate,
            given_mg=given,
            plan_total_mg=plan_total,
            dosing_weight_kg=weight,
            limits=limits,
        )
    except monitoring.PlannedDoseReached:
        return f"The plan's total of {plan_total:g} mg has been given: stop the infusion."
    except ValueError:
        # DoseLimitExceeded or PlanRateExceeded: the clinic's limits were tightened while the
        # pump ran. The chart's rate form names the limit; the flag only has to be seen.
        return "The pump is past the clinic's current dose limits: stop or slow the infusion."
    return ""


def _session_item(
    session: InfusionSession,
    *,
    rules: MonitoringPolicy,
    limits: DoseLimits,
    now: dt.datetime,
    clinical: bool,
) -> BoardItem:
    state: str = session.status
    waiting: list[str] = []
    if session.status == SessionStatus.INFUSING and not session.current_rate_mg_per_h:
        state = "paused"
    if session.status == SessionStatus.RECOVERING:
        waiting = [f.message for f in discharge_missing(session, rules=rules, now=now)]
        if not waiting:
            state = "ready"
    item = BoardItem(
        state=state,
        patient=session.patient,
        time=session.arrived_at,
        appointment=session.appointment,
        session=session,
    )
    if not clinical:
        return item
    item.alerts = list(getattr(session, "open_alert_list", []))
    item.waiting_for = waiting
    monitored = session.status in (SessionStatus.INFUSING, SessionStatus.RECOVERING)
    if session.last_vitals_at is not None:
        item.minutes_since_vitals = max(
            int((now - session.last_vitals_at).total_seconds() // 60), 0
        )
    if monitored and session.started_at is not None:
        item.vitals_overdue = monitoring.vitals_overdue(
            last_vitals_at=session.last_vitals_at,
            monitoring_since=session.started_at,
            now=max(now, session.started_at),
            policy=rules,
        )
    if session.started_at is not None:
        item.given_mg = given_mg_at(session, now if session.ended_at is None else session.ended_at)
    item.stop_reason = pump_stop_reason(session, limits=limits, now=now)
    item.open_deviations = session.open_deviations
    return item


def discharge_missing(
    session: InfusionSession, *, rules: MonitoringPolicy, now: dt.datetime
) -> list[monitoring.Finding]:
    """What still stands between a recovering patient and discharge, from the session row alone
    (no query): the discharge gate (observation from the moment a back-dated stop was saved),
    the vitals after the stop and just before discharge (gate 6), open alerts and open dose
    deviations (gate 4). The escort is confirmed in person, so it is not listed here."""
    ended = session.ended_at
    if ended is None:
        return []
    moment = max(now, session.observed_from or ended)
    gate = monitoring.discharge_check(
        aldrete_answers=session.aldrete_answers,
        escort_confirmed=True,
        infusion_ended_at=session.observed_from or ended,
        now=moment,
        policy=rules,
    )
    missing = list(gate.missing)
    missing += monitoring.discharge_vitals_missing(
        last_vitals_at=session.last_vitals_at, ended_at=ended, now=moment
    )
    if session.open_alerts:
        missing.append(
            monitoring.Finding(
                "open_alerts", "alerts", "Open alerts to acknowledge.", monitoring.ALERT_SOURCE
            )
        )
    if session.open_deviations:
        missing.append(
            monitoring.Finding(
                "open_deviations",
                "deviations",
                f"{charting.DOSE_GATE}: a physician must review it.",
                charting.DOSE_SOURCE,
            )
        )
    return missing


def board_for_location(*, actor: Actor, location_id: int, now: dt.datetime | None = None) -> Board:
    """Today's sessions by chair for one location, in a fixed number of queries."""
    user = require_role(actor.user, BOARD_VIEWERS)
    clinical = user.role in BOARD_CLINICAL
    moment = now or timezone.now()
    with transaction.atomic():
        location = access_location(user, location_id)
        day_start, day_end = _day_bounds(location, moment)
        locations = list(Location.objects.filter(clinic_id=location.clinic_id))
        chairs = list(Chair.objects.filter(location=location, is_active=True))
        sessions_qs = (
            InfusionSession.objects.filter(location=location)
            .filter(
                Q(arrived_at__gte=day_start, arrived_at__lt=day_end) | Q(status__in=ACTIVE_STATUSES)
            )
            .select_related("patient", "chair", "appointment")
            .order_by("arrived_at", "id")
        )
        if clinical:
            sessions_qs = sessions_qs.prefetch_related(
                Prefetch(
                    "alerts",
                    queryset=Alert.objects.filter(acknowledged_at__isnull=True),
                    to_attr="open_alert_list",
                )
            )
        sessions = list(sessions_qs)
        expected = list(
            Appointment.objects.filter(
                location=location,
                type__kind=AppointmentKind.INFUSION,
                start__gte=day_start,
                start__lt=day_end,
                status=AppointmentStatus.BOOKED,
                infusion_session__isnull=True,
            )
            .select_related("patient")
            .order_by("start", "id")
        )
        policy = clinic_policy_current(clinic_id=location.clinic_id)
        in_force = eligibility_in_force_for_patients(
            clinic_id=location.clinic_id,
            patient_ids={s.patient_id for s in sessions} | {a.patient_id for a in expected},
            today=moment.astimezone(zoneinfo.ZoneInfo(location.time_zone)).date(),
        )
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="chair_board",
            object_id=location.pk,
            detail={"sessions": len(sessions), "expected": len(expected)},
        )
    rules = policy.monitoring_policy()
    limits = policy.dose_limits()
    by_chair: dict[int, list[BoardItem]] = {chair.pk: [] for chair in chairs}
    unplaced: list[BoardItem] = []
    for session in sessions:
        item = _session_item(session, rules=rules, limits=limits, now=moment, clinical=clinical)
        item.in_force = in_force.get(session.patient_id)
        by_chair.get(session.chair_id or -1, unplaced).append(item)
    for appointment in expected:
        item = BoardItem(
            state="expected",
            patient=appointment.patient,
            time=appointment.start,
            appointment=appointment,
            in_force=in_force.get(appointment.patient_id),
        )
        by_chair.get(appointment.chair_id or -1, unplaced).append(item)
    rows = [
        ChairRow(chair=chair, items=sorted(by_chair[chair.pk], key=lambda i: i.time))
        for chair in chairs
    ]
    return Board(
        location=location,
        locations=locations,
        rows=rows,
        unplaced=sorted(unplaced, key=lambda i: i.time),
        clinical=clinical,
        now=moment,
        interval_min=rules.vitals_interval_min,
    )


def default_location_id(*, user: User) -> int | None:
    """The board a staff member opens first: their own first location, else the clinic's."""
    require_role(user, BOARD_VIEWERS)
    own = user.locations.order_by("name").values_list("pk", flat=True).first()
    if own is not None and user.role != Role.CLINIC_ADMIN:
        return own
    return (
        Location.objects.filter(clinic_id=user_clinic_id(user))
        .order_by("name")
        .values_list("pk", flat=True)
        .first()
    )


# -- the chart ---------------------------------------------------------------------------------


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
