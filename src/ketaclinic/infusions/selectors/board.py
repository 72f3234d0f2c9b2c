"""The chair board: today's sessions and expected arrivals of one location, chair by chair, in a
fixed number of queries, the read audited.

The query count does not grow with the number of chairs or sessions: the location's chairs,
today's sessions (with their open alerts, one prefetch), today's expected appointments and the
clinic policy are one query each; the state of each session (paused, overdue vitals, ready for
discharge) is computed from the session row's own denormalised fields by the pure rules of
``clinical.monitoring``.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from ketaclinic.accounts.models import Role, User
from ketaclinic.assessments.api import eligibility_in_force_for_patients
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinical import monitoring
from ketaclinic.clinical.dosing import DoseLimits
from ketaclinic.clinical.gates import InForce
from ketaclinic.clinical.monitoring import MonitoringPolicy
from ketaclinic.clinics.api import clinic_policy_current
from ketaclinic.clinics.models import Chair, Location
from ketaclinic.infusions.access import (
    BOARD_CLINICAL,
    BOARD_VIEWERS,
    access_location,
    require_role,
)
from ketaclinic.infusions.models import (
    ACTIVE_STATUSES,
    CLOSED_STATUSES,
    Alert,
    DoseDeviation,
    InfusionSession,
    SessionStatus,
)
from ketaclinic.infusions.selectors.session import (
    day_bounds,
    discharge_missing,
    given_mg_at,
    pump_stop_reason,
)
from ketaclinic.lib.views import user_clinic_id
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.models import Appointment, AppointmentKind, AppointmentStatus

STATE_LABELS = {
    "expected": "Expected",
    # The desk recorded the arrival (the schedule's "Arrived"); the nurse's check-in (a session,
    # a chair) is still to come. One arrival, seen the same way from the desk and the board.
    "waiting": "Arrived — waiting for a chair",
    "arrived": "Arrived",
    "precheck": "Pre-check",
    "infusing": "Infusing",
    "paused": "Infusing (paused)",
    "recovering": "Recovering",
    "ready": "Ready for discharge",
    "discharged": "Discharged",
    "deferred": "Deferred",
}


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
        return self.state not in ("expected", "waiting", "discharged", "deferred")

    @property
    def to_check_in(self) -> bool:
        """Booked or arrived at the desk, not yet checked in by a nurse (no session)."""
        return self.session is None and self.appointment is not None


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


def board_for_location(*, actor: Actor, location_id: int, now: dt.datetime | None = None) -> Board:
    """Today's sessions by chair for one location, in a fixed number of queries."""
    user = require_role(actor.user, BOARD_VIEWERS)
    moment = now or timezone.now()
    with transaction.atomic():
        location = access_location(user, location_id)
        board, n_sessions, n_expected = _board(
            location, clinical=user.role in BOARD_CLINICAL, moment=moment
        )
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="chair_board",
            object_id=location.pk,
            detail={"sessions": n_sessions, "expected": n_expected},
        )
    return board


def boards_today(*, user: User, now: dt.datetime) -> list[Board]:
    """The boards of the user's own locations (the clinic's, for a user assigned to none), not
    audited: for the nurse's worklist, whose page writes one read event for all it shows. A
    fixed number of queries per location."""
    require_role(user, BOARD_VIEWERS)
    own = list(user.locations.filter(clinic_id=user_clinic_id(user)).order_by("name"))
    locations = own or list(
        Location.objects.filter(clinic_id=user_clinic_id(user)).order_by("name")
    )
    clinical = user.role in BOARD_CLINICAL
    return [_board(location, clinical=clinical, moment=now)[0] for location in locations]


def _board(location: Location, *, clinical: bool, moment: dt.datetime) -> tuple[Board, int, int]:
    """The board of one location the caller may see, and how many sessions and expected arrivals
    it read (for the audit event the caller writes)."""
    tz = zoneinfo.ZoneInfo(location.time_zone)
    day_start, day_end = day_bounds(tz, moment)
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
            # Booked, or arrived at the desk: both wait for the nurse's check-in.
            status__in=(AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED),
            infusion_session__isnull=True,
        )
        .select_related("patient")
        .order_by("start", "id")
    )
    policy = clinic_policy_current(clinic_id=location.clinic_id)
    in_force = eligibility_in_force_for_patients(
        clinic_id=location.clinic_id,
        patient_ids={s.patient_id for s in sessions} | {a.patient_id for a in expected},
        today=moment.astimezone(tz).date(),
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
            state="waiting" if appointment.status == AppointmentStatus.ARRIVED else "expected",
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
    board = Board(
        location=location,
        locations=locations,
        rows=rows,
        unplaced=sorted(unplaced, key=lambda i: i.time),
        clinical=clinical,
        now=moment,
        interval_min=rules.vitals_interval_min,
    )
    return board, len(sessions), len(expected)


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


def sessions_to_sign(*, clinic_id: int) -> QuerySet[InfusionSession]:
    """Closed sessions (discharged or deferred) no physician has signed yet, oldest first
    (lazy): the physician's worklist."""
    return (
        InfusionSession.objects.filter(
            clinic_id=clinic_id, status__in=CLOSED_STATUSES, signed_at__isnull=True
        )
        .select_related("patient", "location")
        .order_by("arrived_at", "id")
    )


def deviations_to_review(*, clinic_id: int) -> QuerySet[DoseDeviation]:
    """Dose deviations no physician has reviewed yet, oldest first (lazy): the physician's
    worklist (each blocks its session's discharge and signature)."""
    return (
        DoseDeviation.objects.filter(session__clinic_id=clinic_id, reviewed_at__isnull=True)
        .select_related("session__patient", "session__location")
        .order_by("opened_at", "id")
    )
