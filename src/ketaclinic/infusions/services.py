"""Every write of the infusion day: one transaction each, audited in the same transaction.

Each charting service takes the session's ``public_id`` and the ``expected_version`` the form was
loaded with: it locks the session row, refuses a stale version (``StaleObjectError``: the second
of two nurses saving is told to reload, nothing is lost) and a signed session (read-only;
corrections are addenda), checks its input, and then writes. Refusals raise ``ValidationError``
naming the field, before anything is written, so a refused request changes nothing.

Clinical rules (limits, alerts, the discharge gate, drawn = given + wasted) come only from
``ketaclinic.clinical``; the thresholds are the clinic's current policy, stored with the result.
Times are kept to the minute, as they are entered (``<input type="datetime-local">``), so an
entry made "now" is never "before" an event recorded a few seconds earlier in the same minute.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.http import Http404
from django.utils import timezone

from ketaclinic.accounts.models import Role, User
from ketaclinic.assessments.selectors import require_eligibility_in_force
from ketaclinic.audit.models import Action
from ketaclinic.audit.services import Actor, audit_record
from ketaclinic.clinical import charting, codes, dosing, gates, instruments, monitoring
from ketaclinic.clinical.dosing import DoseLimitExceeded
from ketaclinic.clinical.instruments import InvalidAnswers
from ketaclinic.clinical.monitoring import Finding, Vitals
from ketaclinic.clinics.models import Chair, ClinicPolicy
from ketaclinic.clinics.selectors import clinic_policy_current
from ketaclinic.infusions.access import (
    ARRIVAL_RECORDERS,
    SIGNERS,
    access_session,
    clinic_of,
    require_role,
)
from ketaclinic.infusions.models import (
    ACTIVE_STATUSES,
    AdverseEvent,
    AdverseEventKind,
    Alert,
    AlertAction,
    ChartEntry,
    ControlledSubstanceRecord,
    DeviationTrigger,
    DoseDeviation,
    EntryKind,
    InfusionSession,
    Intervention,
    Observation,
    Phase,
    PreInfusionCheck,
    RateEvent,
    RateEventKind,
    SessionStatus,
)
from ketaclinic.lib.forms import StaleObjectError
from ketaclinic.patients.models import Patient
from ketaclinic.plans.models import KetamineProtocol, Plan, PlanStatus
from ketaclinic.scheduling.models import Appointment, AppointmentKind, AppointmentStatus
from ketaclinic.scheduling.signals import announce_appointments_changed

OBJECT_TYPE = "infusion_session"

# Form field -> label, to turn a clinical message that starts with a field name into a sentence.
FIELD_LABELS: Mapping[str, str] = {
    "systolic_bp": "Systolic BP",
    "diastolic_bp": "Diastolic BP",
    "heart_rate": "Heart rate",
    "spo2": "SpO2",
    "respiratory_rate": "Respiratory rate",
    "new_arrhythmia": "New arrhythmia",
    "rass": "RASS",
    "moaas": "MOAA/S",
    "pain_nrs": "Pain (0-10)",
    "rate_ml_per_h": "Rate",
    "drawn_mg": "Drawn",
    "given_mg": "Given",
    "wasted_mg": "Wasted",
    "witness": "Witness",
}

# LOINC codes of the values charted (docs/clinical-policy.md "Codes [8]"); units come from
# clinical.codes.
LOINC_OF: Mapping[str, str] = {
    "systolic_bp": "8480-6",
    "diastolic_bp": "8462-4",
    "heart_rate": "8867-4",
    "respiratory_rate": "9279-1",
    # Pulse oximetry; the FHIR export adds 2708-6 beside it (US Core pulse-oximetry profile).
    "spo2": "59408-5",
    "pain_nrs": "72514-3",
}
SCALE_SYSTEM = "ketaclinic"
SCALE_UNIT = "{score}"


# -- helpers -----------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return timezone.now()


def _tz(session: InfusionSession) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(session.location.time_zone)


def _clock(value: dt.datetime, tz: zoneinfo.ZoneInfo) -> str:
    local = value.astimezone(tz)
    today = timezone.now().astimezone(tz).date()
    if local.date() == today:
        return f"{local:%H:%M}"
    return f"{local:%Y-%m-%d %H:%M}"


@dataclass(frozen=True)
class _Timed:
    """A charted time that passed gate 7, with what the row and the audit event keep of it."""

    at: dt.datetime
    reason: str
    audit: dict[str, Any]


def _when(
    value: dt.datetime | None,
    *,
    field: str,
    tz: zoneinfo.ZoneInfo,
    policy: ClinicPolicy,
    not_before: Sequence[tuple[dt.datetime | None, str]] = (),
    reason: str = "",
) -> _Timed:
    """The time to chart (gate 7, ``clinical.charting.charted_time``): blank is the server's
    time of saving; back-dating within the clinic's window, with a reason past a few minutes;
    never in the future, never before the events it follows."""
    if value is not None and timezone.is_naive(value):
        raise ValidationError({field: "Enter a time with its date."})
    verdict = charting.charted_time(
        entered=value,
        now=_now(),
        follows=not_before,
        reason=reason,
        backdate_max_min=policy.backdate_max_min,
        tz=tz,
    )
    if not verdict.allowed or verdict.at is None:
        raise ValidationError({field: verdict.message})
    text = reason.strip()[:300] if verdict.backdated_min else ""
    # The audit names how far back and that a reason was written; the text stays on the row.
    audit: dict[str, Any] = {}
    if verdict.backdated_min:
        audit = {"backdated_min": verdict.backdated_min, "time_reason": bool(text)}
    return _Timed(verdict.at, text, audit)


def _sentence(message: str) -> str:
    """A clinical message ("systolic_bp must be ...") in the words of the form."""
    head, _, rest = message.partition(" ")
    head = head.rstrip(":")
    for code, name in FIELD_LABELS.items():
        rest = rest.replace(code, name)
    label = FIELD_LABELS.get(head)
    if label is None:
        return message
    text = f"{label} {rest}".strip()
    return text[0].upper() + text[1:]


def _clinical_error(exc: ValueError, field: str | None = None) -> ValidationError:
    """A clinical ValueError as a form error on the field it names (or on ``field``)."""
    message = str(exc)
    named = message.split(" ", 1)[0].rstrip(":")
    target = field or (named if named in FIELD_LABELS else None)
    text = _sentence(message) if field is None else message
    if target is None:
        return ValidationError(text)
    return ValidationError({target: text})


def _finding_dict(finding: Finding) -> dict[str, Any]:
    return asdict(finding)


def _policy(session: InfusionSession) -> ClinicPolicy:
    return clinic_policy_current(clinic_id=session.clinic_id)


def _user(actor: Actor) -> User:
    if actor.user is None:
        raise Http404("Page not found")
    return actor.user


def _locked(
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    *,
    roles: frozenset[Role] | None = None,
    allow_signed: bool = False,
) -> InfusionSession:
    session = access_session(actor.user, session_id, for_write=True, roles=roles, lock=True)
    if session.is_signed and not allow_signed:
        raise ValidationError(
            "This session is signed and read-only. Add an addendum to correct or complete it."
        )
    if session.version != expected_version:
        raise StaleObjectError("infusion session")
    return session


def _save(session: InfusionSession) -> None:
    # The row is locked (select_for_update in _locked), so a plain increment cannot race.
    session.version += 1
    session.full_clean(exclude=["plan", "appointment", "chair"])
    session.save()


def _audit(
    actor: Actor,
    session: InfusionSession,
    event: str,
    *,
    action: Action = Action.UPDATE,
    **detail: Any,
) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type=OBJECT_TYPE,
        object_id=session.public_id,
        patient=session.patient,
        detail={"event": event, **detail},
    )


def _closed_error(session: InfusionSession, tz: zoneinfo.ZoneInfo) -> ValidationError:
    if session.status == SessionStatus.DISCHARGED and session.discharged_at is not None:
        return ValidationError(
            f"The patient was discharged at {_clock(session.discharged_at, tz)}."
        )
    return ValidationError("The infusion was deferred; this session is closed.")


def current_plan(patient: Patient) -> Plan | None:
    """The patient's signed plan with a ketamine protocol, or None (one signed plan at most)."""
    return (
        Plan.objects.filter(patient=patient, status=PlanStatus.SIGNED, protocol__isnull=False)
        .select_related("protocol")
        .first()
    )


def _day_bounds(tz: zoneinfo.ZoneInfo, moment: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The calendar day of ``moment`` at the location, as [start, end)."""
    day = moment.astimezone(tz).date()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    return start, start + dt.timedelta(days=1)


def _ceiling_today(session: InfusionSession, tz: zoneinfo.ZoneInfo) -> bool:
    """Gate 5: did any pre-check of this patient today read past an in-infusion alert limit?"""
    start, end = _day_bounds(tz, _now())
    checks = PreInfusionCheck.objects.filter(
        session__patient_id=session.patient_id, taken_at__gte=start, taken_at__lt=end
    ).values_list("findings", flat=True)
    return any(monitoring.is_ceiling(f.get("code")) for found in checks for f in found)


def _day_weight(value: float | None) -> float:
    low, high = charting.DAY_WEIGHT_RANGE_KG
    if value is None:
        raise ValidationError(
            {"weight_kg": "Day's weight: enter the patient's weight measured today (kg)."}
        )
    if not low <= float(value) <= high:
        raise ValidationError(
            {"weight_kg": f"Day's weight: enter a weight from {low:g} to {high:g} kg."}
        )
    return float(value)


def _weight_finding(plan: Plan | None, day_weight: float, policy: ClinicPolicy) -> Finding | None:
    """Gate 2: the day's weight more than the clinic's percentage from the plan's measured one."""
    if plan is None:
        return None
    plan_weight = plan.protocol.weight_kg
    if not charting.weight_changed(
        day_weight_kg=day_weight,
        plan_weight_kg=plan_weight,
        percent=policy.weight_change_percent,
    ):
        return None
    return Finding(
        "weight_changed",
        "weight_kg",
        f"{charting.WEIGHT_GATE}: {day_weight:g} kg is more than {policy.weight_change_percent}% "
        f"from the plan's {plan_weight:g} kg: a physician must revise the plan before the start.",
        charting.WEIGHT_SOURCE,
        day_weight,
        plan_weight,
    )


def _observation(
    entry: ChartEntry, session: InfusionSession, name: str, value: int | float
) -> Observation:
    code = codes.lookup("loinc", LOINC_OF[name], field=name)
    return Observation(
        entry=entry,
        session=session,
        patient=session.patient,
        taken_at=entry.taken_at,
        system=code.system,
        code=code.code,
        display=code.display,
        value=Decimal(str(value)),
        unit=code.unit or "1",
    )


def _scale_observation(
    entry: ChartEntry,
    session: InfusionSession,
    code: str,
    total: float,
    components: Mapping[str, object],
) -> Observation:
    return Observation(
        entry=entry,
        session=session,
        patient=session.patient,
        taken_at=entry.taken_at,
        system=SCALE_SYSTEM,
        code=code,
        display=instruments.get_instrument(code).name,
        value=Decimal(str(total)),
        unit=SCALE_UNIT,
        components=dict(components),
    )


def _vitals(values: Mapping[str, Any]) -> Vitals:
    try:
        return Vitals(
            systolic_bp=values.get("systolic_bp"),
            diastolic_bp=values.get("diastolic_bp"),
            heart_rate=values.get("heart_rate"),
            spo2=values.get("spo2"),
            respiratory_rate=values.get("respiratory_rate"),
            new_arrhythmia=bool(values.get("new_arrhythmia", False)),
        )
    except ValueError as exc:
        raise _clinical_error(exc) from None


def _vital_observations(
    entry: ChartEntry, session: InfusionSession, vitals: Vitals, pain_nrs: int | None
) -> list[Observation]:
    rows = []
    for name in ("systolic_bp", "diastolic_bp", "heart_rate", "spo2", "respiratory_rate"):
        value = getattr(vitals, name)
        if value is not None:
            rows.append(_observation(entry, session, name, value))
    if pain_nrs is not None:
        rows.append(_observation(entry, session, "pain_nrs", pain_nrs))
    return rows


def _pain(value: int | None, field: str = "pain_nrs") -> int | None:
    if value is None:
        return None
    try:
        instruments.score("nrs", {"pain": value})
    except InvalidAnswers:
        raise ValidationError({field: "Pain must be a whole number from 0 to 10."}) from None
    return value


def _rate_mg_per_h(rate_ml_per_h: Decimal, concentration: float) -> float:
    # Decimal arithmetic on the values as entered: 5.25 mL/h x 10 mg/mL is exactly 52.5 mg/h.
    return float(Decimal(rate_ml_per_h) * Decimal(repr(concentration)))


# What a rate change is compared on, per dose limit (the units are ``dosing.LIMIT_LABELS``').
_LIMIT_WHAT: Mapping[str, str] = {
    "max_rate_mg_per_kg_h": "the rate",
    "max_session_mg_per_kg": "the amount given so far",
    "max_session_mg": "the amount given so far",
}
# The largest pump setting a rate field (and RateEvent.rate_ml_per_h) holds: 7 digits, 2 after
# the point. Checked before any arithmetic so an absurd figure gets a message, not an overflow.
MAX_RATE_ML_PER_H = Decimal("99999.99")
RATE_STEP = Decimal("0.01")


def _limit_message(rate_ml_per_h: Decimal, rate: float, exc: DoseLimitExceeded) -> str:
    parts = []
    for limit, value, maximum in exc.exceeded:
        what, unit = _LIMIT_WHAT[limit], dosing.LIMIT_LABELS[limit][1]
        parts.append(f"{what} is {value:.3g} {unit}, over the clinic's limit of {maximum:g} {unit}")
    return f"{rate_ml_per_h} mL/h is {rate:g} mg/h: " + "; ".join(parts) + "."


def _rate_entered(rate_ml_per_h: object, *, start: bool = False) -> Decimal:
    """The pump rate as entered, refused (naming the field) before anything compares it."""
    if not isinstance(rate_ml_per_h, Decimal) or not rate_ml_per_h.is_finite():
        raise ValidationError({"rate_ml_per_h": "Enter the pump rate in mL/h."})
    if rate_ml_per_h < 0:
        raise ValidationError({"rate_ml_per_h": "The rate cannot be negative."})
    if start and rate_ml_per_h == 0:
        raise ValidationError({"rate_ml_per_h": "Enter a rate above 0 mL/h to start."})
    if rate_ml_per_h > MAX_RATE_ML_PER_H:
        raise ValidationError(
            {"rate_ml_per_h": f"Enter a rate of at most {MAX_RATE_ML_PER_H} mL/h."}
        )
    if rate_ml_per_h != rate_ml_per_h.quantize(RATE_STEP):
        raise ValidationError(
            {"rate_ml_per_h": "Enter the rate to at most 2 decimal places (0.01 mL/h)."}
        )
    return rate_ml_per_h


def _check_rate(
    session: InfusionSession,
    rate_ml_per_h: Decimal,
    given_mg: float,
    policy: ClinicPolicy,
) -> float:
    """The rate in mg/h, if the pump may run at it now: within the plan's rate, the clinic's
    current hard limits (``clinical.monitoring.infusion_rate_check``), with the plan's total
    still within the clinic's session limits (``clinical.dosing.session_dose_check``: the
    limits may have been tightened since the plan was signed) and not yet given."""
    _rate_entered(rate_ml_per_h)
    assert session.concentration_mg_per_ml is not None
    assert session.plan_rate_mg_per_h is not None
    assert session.plan_total_mg is not None
    assert session.dosing_weight_kg is not None
    rate = _rate_mg_per_h(rate_ml_per_h, session.concentration_mg_per_ml)
    limits = policy.dose_limits()
    try:
        monitoring.infusion_rate_check(
            rate_mg_per_h=rate,
            plan_rate_mg_per_h=session.plan_rate_mg_per_h,
            given_mg=given_mg,
            plan_total_mg=session.plan_total_mg,
            dosing_weight_kg=session.dosing_weight_kg,
            limits=limits,
        )
    except DoseLimitExceeded as exc:
        raise ValidationError({"rate_ml_per_h": _limit_message(rate_ml_per_h, rate, exc)}) from None
    except monitoring.PlanRateExceeded:
        raise ValidationError(
            {
                "rate_ml_per_h": f"{rate_ml_per_h} mL/h is {rate:g} mg/h, above the plan's rate "
                f"of {session.plan_rate_ml_per_h:g} mL/h ({session.plan_rate_mg_per_h:g} mg/h). "
                "A faster rate needs a new plan signed by a physician."
            }
        ) from None
    except monitoring.PlannedDoseReached:
        raise ValidationError(
            {
                "rate_ml_per_h": f"The plan's total of {session.plan_total_mg:g} mg has been "
                f"given ({given_mg:.1f} mg): stop the infusion."
            }
        ) from None
    except ValueError as exc:
        raise _clinical_error(exc, "rate_ml_per_h") from None
    if rate > 0:
        try:
            dosing.session_dose_check(
                total_mg=session.plan_total_mg,
                dosing_weight_kg=session.dosing_weight_kg,
                limits=limits,
            )
        except DoseLimitExceeded as exc:
            per_kg = session.plan_total_mg / session.dosing_weight_kg
            limits_text = " and ".join(
                f"{maximum:g} {dosing.LIMIT_LABELS[limit][1]}"
                for limit, _value, maximum in exc.exceeded
            )
            raise ValidationError(
                {
                    "rate_ml_per_h": f"The plan's total of {session.plan_total_mg:g} mg "
                    f"({per_kg:.3g} mg/kg) is over the clinic's session limit of {limits_text}. "
                    "The infusion may not run: a physician must sign a plan within the "
                    "clinic's current limits."
                }
            ) from None
    return rate


def given_mg_at(session: InfusionSession, at: dt.datetime) -> float:
    """The running total given by ``at``, from the current rate and what was given before it."""
    if session.rate_since is None or session.current_rate_mg_per_h is None:
        return session.given_before_mg
    minutes = max((at - session.rate_since).total_seconds() / 60, 0.0)
    return session.given_before_mg + monitoring.infused_mg(
        [(0.0, minutes, session.current_rate_mg_per_h)]
    )


def _appointment_set_status(
    appointment: Appointment | None, status: AppointmentStatus, actor: Actor
) -> None:
    if appointment is None or appointment.status == status:
        return
    appointment.status = status
    appointment.version += 1
    appointment.save(update_fields=["status", "version", "updated_at"])
    announce_appointments_changed([appointment.patient_id])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="appointment",
        object_id=appointment.public_id,
        patient=appointment.patient,
        detail={"fields": ["status"], "status": str(status)},
    )


def _free_chair(chair: Chair, *, except_session: InfusionSession | None = None) -> None:
    busy = InfusionSession.objects.filter(chair=chair, status__in=ACTIVE_STATUSES)
    if except_session is not None:
        busy = busy.exclude(pk=except_session.pk)
    if busy.exists():
        raise ValidationError({"chair": f"{chair.name} is taken by another patient."})


def _chair_of(location_id: int, chair_id: int) -> Chair:
    chair = Chair.objects.filter(pk=chair_id, location_id=location_id, is_active=True).first()
    if chair is None:
        raise ValidationError({"chair": "Choose one of this location's chairs."})
    return chair


# -- arrival -----------------------------------------------------------------------------------


@transaction.atomic
def session_arrive(
    *,
    actor: Actor,
    appointment_id: uuid.UUID | str,
    chair_id: int | None = None,
    arrived_at: dt.datetime | None = None,
    time_reason: str = "",
) -> InfusionSession:
    """Check a patient in for today's infusion appointment: the session starts here."""
    user = require_role(actor.user, ARRIVAL_RECORDERS)
    try:
        key = uuid.UUID(str(appointment_id))
    except ValueError:
        raise Http404("No such appointment") from None
    appointment = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("location", "patient", "type")
        .filter(clinic_id=clinic_of(user), public_id=key, type__kind=AppointmentKind.INFUSION)
        .first()
    )
    if appointment is None:
        raise Http404("No such appointment")
    tz = zoneinfo.ZoneInfo(appointment.location.time_zone)
    if InfusionSession.objects.filter(appointment=appointment).exists():
        raise ValidationError("This patient has already arrived for this appointment.")
    if appointment.status != AppointmentStatus.BOOKED:
        raise ValidationError(
            f"This appointment is {appointment.get_status_display().lower()}; it cannot be "
            "checked in."
        )
    today = _now().astimezone(tz).date()
    if appointment.start.astimezone(tz).date() != today:
        raise ValidationError(
            f"This appointment is on {appointment.start.astimezone(tz):%A %d %B}, not today."
        )
    # Gate 7: blank is the moment of saving; back-dating within the clinic's window (and still
    # today), with a reason past a few minutes.
    timed = _when(
        arrived_at,
        field="arrived_at",
        tz=tz,
        policy=clinic_policy_current(clinic_id=appointment.clinic_id),
        reason=time_reason,
    )
    at = timed.at
    if at.astimezone(tz).date() != today:
        raise ValidationError({"arrived_at": "Enter a time of arrival today."})
    chair = None
    wanted = chair_id if chair_id is not None else appointment.chair_id
    if wanted is not None:
        chair = _chair_of(appointment.location_id, wanted)
        _free_chair(chair)
    if InfusionSession.objects.filter(
        patient=appointment.patient, status__in=ACTIVE_STATUSES
    ).exists():
        raise ValidationError("This patient is already in a chair today.")
    session = InfusionSession(
        clinic_id=appointment.clinic_id,
        location=appointment.location,
        chair=chair,
        patient=appointment.patient,
        plan=current_plan(appointment.patient),
        appointment=appointment,
        status=SessionStatus.ARRIVED,
        arrived_at=at,
        arrived_by=user,
        arrived_time_reason=timed.reason,
    )
    session.full_clean(exclude=["plan", "appointment", "chair"])
    try:
        with transaction.atomic():
            session.save()
    except IntegrityError:
        # Two desks checking in at the same moment: the constraint decides, nothing is saved.
        raise ValidationError(
            {"chair": "That chair or patient was just taken by another check-in. Reload."}
        ) from None
    _appointment_set_status(appointment, AppointmentStatus.ARRIVED, actor)
    _audit(
        actor,
        session,
        "arrive",
        action=Action.CREATE,
        appointment=str(appointment.public_id),
        chair=chair.pk if chair else None,
        **timed.audit,
    )
    return session


@transaction.atomic
def session_chair_assign(
    *, actor: Actor, session_id: uuid.UUID | str, expected_version: int, chair_id: int
) -> InfusionSession:
    session = _locked(actor, session_id, expected_version)
    if session.status not in ACTIVE_STATUSES:
        raise _closed_error(session, _tz(session))
    chair = _chair_of(session.location_id, chair_id)
    if chair.pk == session.chair_id:
        raise ValidationError({"chair": f"The patient is already in {chair.name}."})
    _free_chair(chair, except_session=session)
    session.chair = chair
    try:
        with transaction.atomic():
            _save(session)
    except IntegrityError:
        raise ValidationError({"chair": f"{chair.name} was just taken. Reload."}) from None
    _audit(actor, session, "chair", chair=chair.pk)
    return session


# -- before the start --------------------------------------------------------------------------


@transaction.atomic
def precheck_record(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    taken_at: dt.datetime | None,
    vitals: Mapping[str, Any],
    fasting: bool,
    escort_arranged: bool,
    consent_confirmed: bool,
    pain_nrs: int | None,
    weight_kg: float | None = None,
    time_reason: str = "",
) -> PreInfusionCheck:
    """Run the pre-infusion checklist (``clinical.monitoring.precheck``) and store its result.

    A pass clears the start; a failure blocks it until a later check passes or a physician
    overrides it. The check's vitals become the patient's baseline for the rise alerts.
    Readings past an in-infusion alert limit (gate 5) and a day's weight too far from the
    plan's (gate 2) fail it and cannot be overridden.
    """
    session = _locked(actor, session_id, expected_version)
    tz = _tz(session)
    if session.status not in (SessionStatus.ARRIVED, SessionStatus.PRECHECK):
        if session.status in (SessionStatus.INFUSING, SessionStatus.RECOVERING):
            raise ValidationError("The infusion has already started.")
        raise _closed_error(session, tz)
    # Gate 1: no pre-infusion check (and so no start) without an eligibility decision in force.
    require_eligibility_in_force(
        patient=session.patient,
        today=_now().astimezone(tz).date(),
        action="run the pre-infusion check",
    )
    policy = _policy(session)
    timed = _when(
        taken_at,
        field="taken_at",
        tz=tz,
        policy=policy,
        not_before=[(session.arrived_at, "the arrival")],
        reason=time_reason,
    )
    at = timed.at
    checked = _vitals(vitals)
    pain = _pain(pain_nrs)
    day_weight = _day_weight(weight_kg)
    plan = current_plan(session.patient)
    try:
        findings = monitoring.precheck(
            vitals=checked,
            fasting=bool(fasting),
            escort_arranged=bool(escort_arranged),
            consent_confirmed=bool(consent_confirmed),
            plan_dose_present=plan is not None,
            policy=policy.monitoring_policy(),
        )
        findings += monitoring.precheck_ceiling(vitals=checked, policy=policy.monitoring_policy())
    except ValueError as exc:
        raise _clinical_error(exc) from None
    weight_finding = _weight_finding(plan, day_weight, policy)
    if weight_finding is not None:
        findings += (weight_finding,)
    blocked_today = _ceiling_today(session, tz)
    entry = ChartEntry(
        session=session,
        kind=EntryKind.PRECHECK,
        phase=Phase.BEFORE,
        taken_at=at,
        recorded_by=_user(actor),
        time_reason=timed.reason,
    )
    entry.full_clean(exclude=["session", "recorded_by"])
    entry.save()
    Observation.objects.bulk_create(_vital_observations(entry, session, checked, pain))
    check = PreInfusionCheck(
        session=session,
        entry=entry,
        taken_at=at,
        recorded_by=_user(actor),
        fasting=bool(fasting),
        escort_arranged=bool(escort_arranged),
        consent_confirmed=bool(consent_confirmed),
        plan_dose_present=plan is not None,
        weight_kg=day_weight,
        passed=not findings,
        findings=[_finding_dict(f) for f in findings],
        policy_version=policy.version,
        policy_values=policy.snapshot(),
    )
    check.full_clean(exclude=["session", "entry", "recorded_by"])
    check.save()
    session.plan = plan
    session.status = SessionStatus.PRECHECK
    # A reading past an alert limit earlier today keeps the start blocked even after a pass.
    session.start_cleared = not findings and not blocked_today
    session.baseline_systolic_bp = checked.systolic_bp
    session.baseline_diastolic_bp = checked.diastolic_bp
    session.baseline_heart_rate = checked.heart_rate
    if session.last_vitals_at is None or at > session.last_vitals_at:
        session.last_vitals_at = at
    _save(session)
    _audit(
        actor,
        session,
        "precheck",
        passed=not findings,
        failed=[f.code for f in findings],
        policy_version=policy.version,
        **timed.audit,
    )
    return check


@transaction.atomic
def precheck_override(
    *, actor: Actor, session_id: uuid.UUID | str, expected_version: int, reason: str
) -> PreInfusionCheck:
    """A physician clears a failed pre-infusion check with a written reason (audited)."""
    session = _locked(actor, session_id, expected_version, roles=SIGNERS)
    if session.status != SessionStatus.PRECHECK:
        raise ValidationError("There is no pre-infusion check waiting for a decision.")
    check = session.prechecks.order_by("-recorded_at", "-id").first()
    if check is None or check.passed or check.override_by_id is not None:
        raise ValidationError("The latest pre-infusion check does not need an override.")
    failed = {f.get("code") for f in check.findings}
    if "no_plan_dose" in failed:
        raise ValidationError(
            "There is no signed plan with a ketamine dose: sign a plan first; the dose "
            "cannot be overridden."
        )
    ceiling = [f["message"] for f in check.findings if monitoring.is_ceiling(f.get("code"))]
    if ceiling or _ceiling_today(session, _tz(session)):
        raise ValidationError(
            ceiling[0]
            if ceiling
            else f"{monitoring.OVERRIDE_CEILING_GATE}: a reading today was past an in-infusion "
            "alert limit: no infusion today, and no override can allow it."
        )
    if "weight_changed" in failed:
        raise ValidationError(
            f"{charting.WEIGHT_GATE}: the day's weight is too far from the plan's; a physician "
            "must revise the plan, then record a new pre-infusion check. It cannot be overridden."
        )
    text = reason.strip()
    if len(text) < gates.MIN_REASON_LENGTH:
        raise ValidationError(
            {
                "reason": f"Write the reason for the override (at least {gates.MIN_REASON_LENGTH} "
                "characters)."
            }
        )
    check.override_by = _user(actor)
    check.override_at = _now()
    check.override_reason = text
    check.full_clean(exclude=["session", "entry", "recorded_by", "override_by"])
    check.save()
    session.start_cleared = True
    _save(session)
    _audit(
        actor,
        session,
        "precheck_override",
        action=Action.OVERRIDE,
        overridden=[f.get("code") for f in check.findings],
    )
    return check


@transaction.atomic
def session_defer(
    *, actor: Actor, session_id: uuid.UUID | str, expected_version: int, reason: str
) -> InfusionSession:
    """Send the patient home without an infusion today (e.g. blood pressure stays high)."""
    session = _locked(actor, session_id, expected_version)
    if session.status not in (SessionStatus.ARRIVED, SessionStatus.PRECHECK):
        if session.status in (SessionStatus.INFUSING, SessionStatus.RECOVERING):
            raise ValidationError("The infusion has started: stop it and discharge instead.")
        raise _closed_error(session, _tz(session))
    text = reason.strip()
    if len(text) < gates.MIN_REASON_LENGTH:
        raise ValidationError(
            {
                "reason": f"Write why the infusion is deferred (at least {gates.MIN_REASON_LENGTH} "
                "characters)."
            }
        )
    session.status = SessionStatus.DEFERRED
    session.deferred_reason = text
    _save(session)
    # Given means given (gate 10): the patient's stored results are recomputed without it.
    announce_appointments_changed([session.patient_id])
    _audit(actor, session, "defer")
    return session


@transaction.atomic
def controlled_draw_record(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    lot: str,
    expiry: dt.date,
    drawn_mg: Decimal,
    drawn_at: dt.datetime | None = None,
    time_reason: str = "",
) -> ControlledSubstanceRecord:
    """Ketamine drawn up for this session: lot, expiry and amount (Schedule III record), at most
    the clinic's multiple of the plan's total (gate 4)."""
    session = _locked(actor, session_id, expected_version)
    tz = _tz(session)
    if session.status not in (SessionStatus.ARRIVED, SessionStatus.PRECHECK):
        if session.status in (SessionStatus.INFUSING, SessionStatus.RECOVERING):
            raise ValidationError("The infusion has started: the draw is recorded before it.")
        raise _closed_error(session, tz)
    if hasattr(session, "controlled_substance"):
        raise ValidationError("The ketamine drawn for this session is already recorded.")
    plan = current_plan(session.patient)
    if plan is None:
        raise ValidationError("There is no signed plan with a ketamine dose for this session.")
    policy = _policy(session)
    timed = _when(
        drawn_at,
        field="drawn_at",
        tz=tz,
        policy=policy,
        not_before=[(session.arrived_at, "the arrival")],
        reason=time_reason,
    )
    at = timed.at
    lot_text = lot.strip()
    if not lot_text:
        raise ValidationError({"lot": "Enter the lot number on the vial."})
    if expiry < at.astimezone(tz).date():
        raise ValidationError({"expiry": f"This lot expired on {expiry:%d %B %Y}: do not use it."})
    if drawn_mg <= 0:
        raise ValidationError({"drawn_mg": "The amount drawn must be more than 0 mg."})
    most = charting.draw_limit_mg(
        plan_total_mg=plan.protocol.total_mg, factor=policy.draw_max_factor
    )
    if drawn_mg > Decimal(repr(most)):
        raise ValidationError(
            {
                "drawn_mg": f"{charting.DOSE_GATE}: {drawn_mg} mg is more than "
                f"{policy.draw_max_factor:g} x the plan's total of {plan.protocol.total_mg:g} mg "
                f"(at most {most:g} mg may be drawn): check the amount."
            }
        )
    record = ControlledSubstanceRecord(
        session=session,
        concentration_mg_per_ml=plan.protocol.concentration_mg_per_ml,
        lot=lot_text,
        expiry=expiry,
        drawn_mg=drawn_mg,
        drawn_at=at,
        time_reason=timed.reason,
        drawn_by=_user(actor),
    )
    record.full_clean(exclude=["session", "drawn_by"])
    record.save()
    _save(session)
    _audit(
        actor,
        session,
        "controlled_draw",
        action=Action.CREATE,
        fields=["lot", "expiry", "drawn_mg"],
        **timed.audit,
    )
    return record


# -- administration ----------------------------------------------------------------------------


@transaction.atomic
def infusion_start(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    at: dt.datetime | None,
    rate_ml_per_h: Decimal,
    time_reason: str = "",
) -> InfusionSession:
    """Start the pump: only after a passed (or overridden) check, with a drawn, recorded lot,
    at a rate within the plan and the clinic's limits; with baseline vitals just before
    (gate 6), on the day's weight (gate 2), once a day at most (gate 3), and never on a day a
    reading crossed an in-infusion alert limit (gate 5)."""
    session = _locked(actor, session_id, expected_version)
    tz = _tz(session)
    if session.started_at is not None:
        raise ValidationError(
            f"The infusion was already started at {_clock(session.started_at, tz)}."
        )
    if session.status == SessionStatus.ARRIVED:
        raise ValidationError("Record the pre-infusion check before starting.")
    if session.status != SessionStatus.PRECHECK:
        raise _closed_error(session, tz)
    if not session.start_cleared:
        raise ValidationError(
            "The pre-infusion check did not pass: recheck, or a physician may override it "
            "with a reason."
        )
    # Gate 1 again at the start: the decision may have expired or been replaced since the check.
    require_eligibility_in_force(
        patient=session.patient, today=_now().astimezone(tz).date(), action="start the infusion"
    )
    plan = current_plan(session.patient)
    if plan is None:
        raise ValidationError("There is no signed plan with a ketamine dose for this session.")
    record: ControlledSubstanceRecord | None = getattr(session, "controlled_substance", None)
    if record is None:
        raise ValidationError("Record the ketamine drawn (lot, expiry, amount) before starting.")
    protocol = plan.protocol
    # mL/h becomes mg/h with the plan's concentration: a syringe drawn at another concentration
    # (the plan was replaced after the draw) would make every dose figure on the chart wrong.
    if Decimal(repr(record.concentration_mg_per_ml)) != Decimal(
        repr(protocol.concentration_mg_per_ml)
    ):
        raise ValidationError(
            f"The ketamine drawn (lot {record.lot}) is {record.concentration_mg_per_ml:g} mg/mL "
            f"but the signed plan now uses {protocol.concentration_mg_per_ml:g} mg/mL: do not "
            "start; defer this session."
        )
    rate_entered = _rate_entered(rate_ml_per_h, start=True)
    if _ceiling_today(session, tz):
        raise ValidationError(
            f"{monitoring.OVERRIDE_CEILING_GATE}: a pre-check reading today was past an "
            "in-infusion alert limit: no infusion today."
        )
    latest_check = session.prechecks.order_by("-recorded_at", "-id").first()
    policy = _policy(session)
    timed = _when(
        at,
        field="at",
        tz=tz,
        policy=policy,
        not_before=[
            (session.arrived_at, "the arrival"),
            (latest_check.taken_at if latest_check else None, "the pre-infusion check"),
            (record.drawn_at, "the draw"),
        ],
        reason=time_reason,
    )
    start = timed.at
    _day_cap_check(session, tz, start)
    baseline = monitoring.baseline_vitals_missing(
        last_vitals_at=session.last_vitals_at, start_at=start
    )
    if baseline is not None:
        raise ValidationError(baseline.message)
    day_weight = latest_check.weight_kg if latest_check else None
    if day_weight is not None:
        _day_weight_change_check(protocol, day_weight, policy)
    session.plan = plan
    session.plan_rate_mg_per_h = protocol.rate_mg_per_h
    session.plan_rate_ml_per_h = protocol.rate_ml_per_h
    session.plan_total_mg = protocol.total_mg
    session.plan_duration_min = protocol.duration_min
    session.dosing_weight_kg = protocol.dosing_weight_kg
    session.weight_kg = protocol.weight_kg
    session.concentration_mg_per_ml = protocol.concentration_mg_per_ml
    session.pk_model = protocol.pk_model
    rate = _check_rate(session, rate_entered, 0.0, policy)
    if day_weight is not None:
        # After the plan's own checks, so a plan past the limits on its weight says so first.
        _day_weight_limits_check(protocol, day_weight, rate, policy)
    session.policy_version = policy.version
    session.policy_values = policy.snapshot()
    session.status = SessionStatus.INFUSING
    session.started_at = start
    session.current_rate_ml_per_h = rate_entered
    session.current_rate_mg_per_h = rate
    session.rate_since = start
    session.given_before_mg = 0.0
    event = RateEvent(
        session=session,
        kind=RateEventKind.START,
        at=start,
        rate_ml_per_h=rate_entered,
        rate_mg_per_h=rate,
        given_mg=0.0,
        policy_version=policy.version,
        time_reason=timed.reason,
        recorded_by=_user(actor),
    )
    event.full_clean(exclude=["session", "recorded_by"])
    event.save()
    _save(session)
    # Given means given (gate 10): from its start the session counts in the patient's results.
    announce_appointments_changed([session.patient_id])
    _audit(
        actor,
        session,
        "start",
        fields=["started_at", "rate_ml_per_h"],
        policy_version=policy.version,
        **timed.audit,
    )
    return session


def _day_cap_check(session: InfusionSession, tz: zoneinfo.ZoneInfo, start: dt.datetime) -> None:
    """Gate 3: at most ``SESSIONS_PER_DAY`` ketamine sessions per patient per calendar day of the
    location (``clinical.gates.day_cap_conflicts``); a session counts once it has a start."""
    day_start, day_end = _day_bounds(tz, start)
    started = InfusionSession.objects.filter(
        patient_id=session.patient_id, started_at__gte=day_start, started_at__lt=day_end
    ).exclude(pk=session.pk)
    days = [s.astimezone(tz).date() for s in started.values_list("started_at", flat=True) if s]
    if gates.day_cap_conflicts(days, [start.astimezone(tz).date()]):
        raise ValidationError(
            f"One session per day: {session.patient.full_name} already had a ketamine infusion "
            f"on {start.astimezone(tz):%A %d %B} (at most {gates.SESSIONS_PER_DAY} per day)."
        )


def _day_weight_change_check(
    protocol: KetamineProtocol, day_weight: float, policy: ClinicPolicy
) -> None:
    """Gate 2 at the start: the day's weight still within the clinic's percentage of the plan's
    (the plan may have been revised since the check)."""
    if charting.weight_changed(
        day_weight_kg=day_weight,
        plan_weight_kg=protocol.weight_kg,
        percent=policy.weight_change_percent,
    ):
        raise ValidationError(
            f"{charting.WEIGHT_GATE}: {day_weight:g} kg today is more than "
            f"{policy.weight_change_percent}% from the plan's {protocol.weight_kg:g} kg: a "
            "physician must revise the plan before the start."
        )


def _day_weight_limits_check(
    protocol: KetamineProtocol, day_weight: float, rate: float, policy: ClinicPolicy
) -> None:
    """Gate 2 at the start: the plan's total and the rate within the mg/kg limits on the day's
    weight, not only on the weight the plan was computed with."""
    try:
        dosing.session_dose_check(
            total_mg=protocol.total_mg, dosing_weight_kg=day_weight, limits=policy.dose_limits()
        )
        dosing.rate_limit_check(
            rate_mg_per_h=rate, dosing_weight_kg=day_weight, limits=policy.dose_limits()
        )
    except DoseLimitExceeded as exc:
        parts = [
            f"{value:.3g} {dosing.LIMIT_LABELS[limit][1]}, over the limit of {maximum:g} "
            f"{dosing.LIMIT_LABELS[limit][1]}"
            for limit, value, maximum in exc.exceeded
        ]
        raise ValidationError(
            f"{charting.WEIGHT_GATE}: on today's weight of {day_weight:g} kg the plan is past the "
            f"clinic's limits ({'; '.join(parts)}): a physician must revise the plan."
        ) from None


def _running(session: InfusionSession, tz: zoneinfo.ZoneInfo) -> None:
    if session.status == SessionStatus.INFUSING:
        return
    if session.status == SessionStatus.RECOVERING and session.ended_at is not None:
        raise ValidationError(f"The infusion was stopped at {_clock(session.ended_at, tz)}.")
    if session.status in (SessionStatus.ARRIVED, SessionStatus.PRECHECK):
        raise ValidationError("The infusion has not started.")
    raise _closed_error(session, tz)


@transaction.atomic
def infusion_rate_set(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    at: dt.datetime | None,
    rate_ml_per_h: Decimal,
    reason: str = "",
    time_reason: str = "",
) -> RateEvent:
    """Change the pump rate; 0 pauses, a rate after a pause resumes. Refused past the plan's
    rate or the clinic's limits, or once the plan's total has been given. A dose already past
    the plan's total opens a dose deviation (gate 4)."""
    session = _locked(actor, session_id, expected_version)
    tz = _tz(session)
    _running(session, tz)
    policy = _policy(session)
    timed = _when(
        at,
        field="at",
        tz=tz,
        policy=policy,
        not_before=[
            (session.started_at, "the start"),
            (session.rate_since, "the last rate change"),
        ],
        reason=time_reason,
    )
    when = timed.at
    rate_ml_per_h = _rate_entered(rate_ml_per_h)
    if rate_ml_per_h == session.current_rate_ml_per_h:
        raise ValidationError({"rate_ml_per_h": f"The pump already runs at {rate_ml_per_h} mL/h."})
    given = given_mg_at(session, when)
    rate = _check_rate(session, rate_ml_per_h, given, policy)
    if rate == 0:
        kind = RateEventKind.PAUSE
    elif not session.current_rate_mg_per_h:
        kind = RateEventKind.RESUME
    else:
        kind = RateEventKind.CHANGE
    event = RateEvent(
        session=session,
        kind=kind,
        at=when,
        rate_ml_per_h=rate_ml_per_h,
        rate_mg_per_h=rate,
        reason=reason.strip()[:300],
        time_reason=timed.reason,
        given_mg=given,
        policy_version=policy.version,
        recorded_by=_user(actor),
    )
    event.full_clean(exclude=["session", "recorded_by"])
    event.save()
    session.current_rate_ml_per_h = rate_ml_per_h
    session.current_rate_mg_per_h = rate
    session.rate_since = when
    session.given_before_mg = given
    _deviation_open(actor, session, given=given, trigger=DeviationTrigger.RATE, policy=policy)
    _save(session)
    _audit(
        actor,
        session,
        f"rate_{kind}",
        fields=["rate_ml_per_h"],
        policy_version=policy.version,
        **timed.audit,
    )
    return event


@transaction.atomic
def infusion_stop(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    at: dt.datetime | None,
    reason: str = "",
    time_reason: str = "",
) -> InfusionSession:
    """Stop the pump: the infusion has ended and observation begins (from the minute the stop
    is saved when it is back-dated, gate 7). A dose given past the plan's total opens a dose
    deviation (gate 4)."""
    session = _locked(actor, session_id, expected_version)
    tz = _tz(session)
    _running(session, tz)
    policy = _policy(session)
    timed = _when(
        at,
        field="at",
        tz=tz,
        policy=policy,
        not_before=[
            (session.started_at, "the start"),
            (session.rate_since, "the last rate change"),
        ],
        reason=time_reason,
    )
    when = timed.at
    given = given_mg_at(session, when)
    RateEvent.objects.create(
        session=session,
        kind=RateEventKind.STOP,
        at=when,
        rate_ml_per_h=Decimal("0"),
        rate_mg_per_h=0.0,
        reason=reason.strip()[:300],
        time_reason=timed.reason,
        given_mg=given,
        policy_version=policy.version,
        recorded_by=_user(actor),
    )
    session.status = SessionStatus.RECOVERING
    session.ended_at = when
    session.observed_from = charting.observation_start(ended_at=when, saved_at=_now())
    session.current_rate_ml_per_h = Decimal("0")
    session.current_rate_mg_per_h = 0.0
    session.rate_since = when
    session.given_before_mg = given
    _deviation_open(actor, session, given=given, trigger=DeviationTrigger.STOP, policy=policy)
    _save(session)
    _audit(actor, session, "stop", fields=["ended_at"], **timed.audit)
    return session


def _deviation_open(
    actor: Actor,
    session: InfusionSession,
    *,
    given: float,
    trigger: DeviationTrigger,
    policy: ClinicPolicy,
) -> DoseDeviation | None:
    """Gate 4: open a dose-deviation record once the dose given passes the plan's total by more
    than the clinic's tolerance (once per session; the caller saves the session's count)."""
    total = session.plan_total_mg
    if total is None or total <= 0:
        return None
    excess = charting.dose_excess(
        given_mg=given,
        plan_total_mg=total,
        percent=policy.dose_deviation_percent,
        min_mg=gates.DOSE_DEVIATION_MIN_MG,
    )
    if excess is None:
        return None
    if session.dose_deviations.exclude(trigger=DeviationTrigger.RECONCILE).exists():
        return None
    deviation = DoseDeviation(
        session=session,
        trigger=trigger,
        opened_at=_now(),
        given_mg=given,
        plan_total_mg=total,
        excess_mg=excess,
        message=(
            f"{charting.DOSE_GATE}: {given:.1f} mg given, {excess:.1f} mg past the plan's total "
            f"of {total:g} mg (tolerance {policy.dose_deviation_percent:g}% and "
            f"{gates.DOSE_DEVIATION_MIN_MG:g} mg). A physician must review it."
        ),
        policy_version=policy.version,
        policy_values=policy.snapshot(),
    )
    return _deviation_save(actor, session, deviation)


def _deviation_save(
    actor: Actor, session: InfusionSession, deviation: DoseDeviation
) -> DoseDeviation:
    """Store an opened deviation, count it on the session (the caller saves it) and audit it."""
    deviation.full_clean(exclude=["session", "reviewed_by"])
    deviation.save()
    session.open_deviations += 1
    _audit(
        actor,
        session,
        "dose_deviation_open",
        action=Action.CREATE,
        deviation=str(deviation.public_id),
        trigger=str(deviation.trigger),
        policy_version=deviation.policy_version,
    )
    return deviation


# -- monitoring --------------------------------------------------------------------------------


def _monitoring(session: InfusionSession, tz: zoneinfo.ZoneInfo) -> None:
    if session.status in (SessionStatus.INFUSING, SessionStatus.RECOVERING):
        return
    if session.status in (SessionStatus.ARRIVED, SessionStatus.PRECHECK):
        raise ValidationError(
            "The infusion has not started: record vitals with the pre-infusion check."
        )
    raise _closed_error(session, tz)


def _phase(session: InfusionSession, at: dt.datetime) -> Phase:
    if session.ended_at is not None and at > session.ended_at:
        return Phase.AFTER
    return Phase.DURING


def _raise_alerts(
    session: InfusionSession,
    entry: ChartEntry,
    findings: Sequence[Finding],
    policy: ClinicPolicy,
) -> list[Alert]:
    """One alert for the reading, listing every limit it crossed (gate 8): one acknowledgement
    then records the action taken for all of them."""
    if not findings:
        return []
    first = findings[0]
    alert = Alert(
        session=session,
        entry=entry,
        code=first.code,
        field=first.field,
        message=" ".join(f.message for f in findings)[:500],
        source=" ".join(dict.fromkeys(f.source for f in findings)),
        value=first.value,
        threshold=first.threshold,
        findings=[_finding_dict(f) for f in findings],
        raised_at=entry.taken_at,
        policy_version=policy.version,
    )
    alert.save()
    session.open_alerts += 1
    return [alert]


@transaction.atomic
def vitals_record(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    taken_at: dt.datetime | None,
    vitals: Mapping[str, Any],
    rass: int | None = None,
    moaas: int | None = None,
    pain_nrs: int | None = None,
    note: str = "",
    time_reason: str = "",
) -> tuple[ChartEntry, list[Alert]]:
    """Vital signs and sedation during or after the infusion; alerts fire on the absolute
    limits and on a blood-pressure rise over the patient's own (pre-infusion) baseline. A dose
    already past the plan's total opens a dose deviation (gate 4)."""
    session = _locked(actor, session_id, expected_version)
    tz = _tz(session)
    _monitoring(session, tz)
    policy = _policy(session)
    timed = _when(
        taken_at,
        field="taken_at",
        tz=tz,
        policy=policy,
        not_before=[(session.started_at, "the start")],
        reason=time_reason,
    )
    at = timed.at
    checked = _vitals(vitals)
    pain = _pain(pain_nrs)
    if checked.is_empty and rass is None and moaas is None and pain is None:
        raise ValidationError("Enter at least one value.")
    rules = policy.monitoring_policy()
    baseline = None
    if session.baseline_systolic_bp is not None and session.baseline_diastolic_bp is not None:
        baseline = Vitals(
            systolic_bp=session.baseline_systolic_bp, diastolic_bp=session.baseline_diastolic_bp
        )
    try:
        findings = monitoring.vital_alerts(vitals=checked, baseline=baseline, policy=rules)
        findings += monitoring.sedation_alerts(rass=rass, moaas=moaas, policy=rules)
    except InvalidAnswers as exc:
        field = "rass" if exc.code == "rass" else "moaas"
        raise ValidationError(
            {field: f"{FIELD_LABELS[field]} level is out of range: {exc.errors['level']}."}
        ) from None
    entry = ChartEntry(
        session=session,
        kind=EntryKind.VITALS,
        phase=_phase(session, at),
        taken_at=at,
        recorded_by=_user(actor),
        note=note.strip()[:500],
        time_reason=timed.reason,
    )
    entry.full_clean(exclude=["session", "recorded_by"])
    entry.save()
    rows = _vital_observations(entry, session, checked, pain)
    if rass is not None:
        rows.append(_scale_observation(entry, session, "rass", rass, {"level": rass}))
    if moaas is not None:
        rows.append(_scale_observation(entry, session, "moaas", moaas, {"level": moaas}))
    Observation.objects.bulk_create(rows)
    alerts = _raise_alerts(session, entry, findings, policy)
    # Only a full set moves the monitoring clock (gate 6); a single value is charted all the same.
    if checked.is_set and (session.last_vitals_at is None or at > session.last_vitals_at):
        session.last_vitals_at = at
    given = given_mg_at(session, session.ended_at or _now())
    _deviation_open(actor, session, given=given, trigger=DeviationTrigger.VITALS, policy=policy)
    _save(session)
    _audit(
        actor,
        session,
        "vitals",
        fields=[o.code for o in rows],
        alerts=[f.code for f in findings],
        **timed.audit,
    )
    return entry, alerts


@transaction.atomic
def cadss_record(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    taken_at: dt.datetime | None,
    answers: Mapping[str, object],
    time_reason: str = "",
) -> ChartEntry:
    """CADSS-6 (dissociation), scored by ``clinical.instruments``: a baseline before the start
    (after the arrival), then during and after the infusion."""
    session = _locked(actor, session_id, expected_version)
    tz = _tz(session)
    before = session.status in (SessionStatus.ARRIVED, SessionStatus.PRECHECK)
    if not before:
        _monitoring(session, tz)
    timed = _when(
        taken_at,
        field="taken_at",
        tz=tz,
        policy=_policy(session),
        not_before=[(session.arrived_at, "the arrival")]
        if before
        else [(session.started_at, "the start")],
        reason=time_reason,
    )
    at = timed.at
    try:
        result = instruments.score("cadss6", answers)
    except InvalidAnswers as exc:
        raise ValidationError({key: f"{message}." for key, message in exc.errors.items()}) from None
    entry = ChartEntry(
        session=session,
        kind=EntryKind.CADSS,
        phase=Phase.BEFORE if before else _phase(session, at),
        taken_at=at,
        recorded_by=_user(actor),
        time_reason=timed.reason,
    )
    entry.full_clean(exclude=["session", "recorded_by"])
    entry.save()
    _scale_observation(entry, session, "cadss6", result.total, answers).save()
    _save(session)
    _audit(actor, session, "cadss6", fields=["cadss6"], phase=str(entry.phase), **timed.audit)
    return entry


@transaction.atomic
def recovery_assess(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    taken_at: dt.datetime | None,
    aldrete: Mapping[str, object],
    pain_nrs: int | None = None,
    time_reason: str = "",
) -> ChartEntry:
    """The modified Aldrete score after the infusion (and the pain NRS after)."""
    session = _locked(actor, session_id, expected_version)
    tz = _tz(session)
    if session.status != SessionStatus.RECOVERING:
        if session.status == SessionStatus.INFUSING:
            raise ValidationError("The infusion is still running: stop it before the Aldrete.")
        if session.status in (SessionStatus.ARRIVED, SessionStatus.PRECHECK):
            raise ValidationError("The infusion has not started.")
        raise _closed_error(session, tz)
    timed = _when(
        taken_at,
        field="taken_at",
        tz=tz,
        policy=_policy(session),
        not_before=[(session.ended_at, "the end of the infusion")],
        reason=time_reason,
    )
    at = timed.at
    try:
        result = instruments.score("aldrete", aldrete)
    except InvalidAnswers as exc:
        raise ValidationError({key: f"{message}." for key, message in exc.errors.items()}) from None
    pain = _pain(pain_nrs)
    entry = ChartEntry(
        session=session,
        kind=EntryKind.RECOVERY,
        phase=Phase.AFTER,
        taken_at=at,
        recorded_by=_user(actor),
        time_reason=timed.reason,
    )
    entry.full_clean(exclude=["session", "recorded_by"])
    entry.save()
    rows = [_scale_observation(entry, session, "aldrete", result.total, aldrete)]
    if pain is not None:
        rows.append(_observation(entry, session, "pain_nrs", pain))
    Observation.objects.bulk_create(rows)
    if session.aldrete_at is None or at >= session.aldrete_at:
        session.aldrete_answers = dict(aldrete)
        session.aldrete_total = int(result.total)
        session.aldrete_at = at
    _save(session)
    _audit(
        actor,
        session,
        "aldrete",
        fields=["aldrete", *(["pain_nrs"] if pain is not None else [])],
        **timed.audit,
    )
    return entry


@transaction.atomic
def alert_acknowledge(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    alert_id: uuid.UUID | str,
    action: str,
    note: str = "",
) -> Alert:
    """Close an alert with the action taken; until then it stays on the board."""
    session = _locked(actor, session_id, expected_version)
    try:
        key = uuid.UUID(str(alert_id))
    except ValueError:
        raise ValidationError({"alert": "Choose one of this session's alerts."}) from None
    alert = session.alerts.filter(public_id=key).first()
    if alert is None:
        raise ValidationError({"alert": "Choose one of this session's alerts."})
    if alert.acknowledged_at is not None:
        raise ValidationError("This alert was already acknowledged.")
    if action not in AlertAction.values:
        raise ValidationError({"action": "Choose the action taken."})
    text = note.strip()
    if action == AlertAction.MEDICATION and not text:
        raise ValidationError({"note": "Name the medication and dose given."})
    alert.acknowledged_at = _now()
    alert.acknowledged_by = _user(actor)
    alert.action = action
    alert.action_note = text[:500]
    alert.full_clean(exclude=["session", "entry", "acknowledged_by"])
    alert.save()
    session.open_alerts = max(session.open_alerts - 1, 0)
    _save(session)
    _audit(actor, session, "alert_acknowledge", alert=alert.code, taken=action)
    return alert


@transaction.atomic
def adverse_event_record(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    kind: str,
    severity: str,
    onset_at: dt.datetime | None,
    interventions: Sequence[str],
    outcome: str,
    note: str = "",
    time_reason: str = "",
) -> AdverseEvent:
    session = _locked(actor, session_id, expected_version)
    tz = _tz(session)
    if session.status not in ACTIVE_STATUSES:
        raise _closed_error(session, tz)
    timed = _when(
        onset_at,
        field="onset_at",
        tz=tz,
        policy=_policy(session),
        not_before=[(session.arrived_at, "the arrival")],
        reason=time_reason,
    )
    onset = timed.at
    chosen = list(dict.fromkeys(interventions))
    if not chosen:
        raise ValidationError({"interventions": "Choose what was done (or 'None needed')."})
    if Intervention.NONE in chosen and len(chosen) > 1:
        raise ValidationError({"interventions": "'None needed' cannot go with other actions."})
    unknown = [c for c in chosen if c not in Intervention.values]
    if unknown:
        raise ValidationError({"interventions": "Choose from the list."})
    text = note.strip()
    if (Intervention.OTHER in chosen or kind == AdverseEventKind.OTHER) and not text:
        raise ValidationError({"note": "Describe the event or the action in the note."})
    event = AdverseEvent(
        session=session,
        kind=kind,
        severity=severity,
        onset_at=onset,
        interventions=chosen,
        note=text[:1000],
        outcome=outcome,
        time_reason=timed.reason,
        recorded_by=_user(actor),
    )
    event.full_clean(exclude=["session", "recorded_by"])
    event.save()
    _save(session)
    _audit(
        actor,
        session,
        "adverse_event",
        action=Action.CREATE,
        kind=kind,
        severity=severity,
        **timed.audit,
    )
    return event


# -- after the infusion ------------------------------------------------------------------------


@transaction.atomic
def controlled_reconcile(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    given_mg: Decimal,
    wasted_mg: Decimal,
    witness_id: int | None,
    witness_password: str = "",
    given_reason: str = "",
) -> ControlledSubstanceRecord:
    """Close the Schedule III record: drawn = given + wasted, any waste witnessed by a second
    nurse or physician of the clinic who confirms with their own password. "Given" must match
    the dose the charted rates give within the clinic's tolerance, or carry a reason, which
    opens a dose deviation for a physician to review (gate 4)."""
    session = _locked(actor, session_id, expected_version)
    record: ControlledSubstanceRecord | None = getattr(session, "controlled_substance", None)
    if record is None:
        raise ValidationError("No ketamine was drawn for this session.")
    if record.is_reconciled:
        raise ValidationError("The controlled-substance record is already reconciled.")
    if session.status in (SessionStatus.INFUSING, SessionStatus.ARRIVED, SessionStatus.PRECHECK):
        raise ValidationError("Reconcile after the infusion has ended.")
    if session.status == SessionStatus.DEFERRED and given_mg != 0:
        raise ValidationError({"given_mg": "The infusion was not given: given must be 0 mg."})
    user = _user(actor)
    witness: User | None = None
    if witness_id is not None and wasted_mg > 0:
        witness = User.objects.filter(
            pk=witness_id,
            clinic_id=session.clinic_id,
            role__in=(Role.NURSE, Role.PHYSICIAN),
            is_active=True,
        ).first()
        if witness is None:
            raise ValidationError({"witness": "Choose a nurse or physician of this clinic."})
        if witness.pk == user.pk:
            raise ValidationError(
                {"witness": "The witness must be a second person, not the one recording."}
            )
        if not witness.check_password(witness_password):
            raise ValidationError({"witness_password": "The witness's password is not correct."})
    try:
        monitoring.controlled_substance_check(
            drawn_mg=float(record.drawn_mg),
            given_mg=float(given_mg),
            wasted_mg=float(wasted_mg),
            witnessed=witness is not None,
        )
    except ValueError as exc:
        message = str(exc)
        field = message.split(":", 1)[0].split(" ", 1)[0]
        text = message.split(":", 1)[1].strip() if ":" in message else _sentence(message)
        raise ValidationError({field: text[0].upper() + text[1:]}) from None
    policy = _policy(session)
    computed = given_mg_at(session, session.ended_at) if session.ended_at is not None else 0.0
    mismatch = charting.reconciled_mismatch(
        entered_mg=float(given_mg),
        computed_mg=computed,
        percent=policy.dose_deviation_percent,
        min_mg=gates.DOSE_DEVIATION_MIN_MG,
    )
    why = given_reason.strip()
    if mismatch is not None and len(why) < gates.MIN_REASON_LENGTH:
        raise ValidationError(
            {
                "given_reason": f"{charting.DOSE_GATE}: given {given_mg} mg differs from the "
                f"{computed:.2f} mg the charted rates give by {mismatch:.2f} mg (tolerance "
                f"{policy.dose_deviation_percent:g}% and {gates.DOSE_DEVIATION_MIN_MG:g} mg): "
                "correct it, or write the reason (at least "
                f"{gates.MIN_REASON_LENGTH} characters); a "
                "physician then reviews it."
            }
        )
    record.given_mg = given_mg
    record.wasted_mg = wasted_mg
    record.waste_witness = witness
    record.reconciled_at = _now()
    record.reconciled_by = user
    record.given_reason = why if mismatch is not None else ""
    record.full_clean(exclude=["session", "drawn_by", "waste_witness", "reconciled_by"])
    record.save()
    if mismatch is not None:
        deviation = DoseDeviation(
            session=session,
            trigger=DeviationTrigger.RECONCILE,
            opened_at=_now(),
            given_mg=computed,
            plan_total_mg=session.plan_total_mg or 0.0,
            excess_mg=mismatch,
            entered_mg=float(given_mg),
            reason=why,
            message=(
                f"{charting.DOSE_GATE}: reconciled as {given_mg} mg given, but the charted "
                f"rates give {computed:.2f} mg ({mismatch:.2f} mg apart): {why}"
            )[:500],
            policy_version=policy.version,
            policy_values=policy.snapshot(),
        )
        _deviation_save(actor, session, deviation)
    _save(session)
    _audit(
        actor,
        session,
        "controlled_reconcile",
        fields=["given_mg", "wasted_mg", *(["waste_witness"] if witness else [])],
        witness=witness.pk if witness else None,
    )
    return record


@transaction.atomic
def session_discharge(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    escort_name: str,
    escort_confirmed: bool,
) -> InfusionSession:
    """Discharge through the gate (``clinical.monitoring.discharge_check``): modified Aldrete at
    or above the clinic's minimum, the escort confirmed, the observation time since the end
    passed, and no open alert. Otherwise refused, every missing condition named."""
    session = _locked(actor, session_id, expected_version)
    tz = _tz(session)
    if session.status == SessionStatus.INFUSING:
        raise ValidationError("The infusion has not ended: stop it before discharge.")
    if session.status in (SessionStatus.ARRIVED, SessionStatus.PRECHECK):
        raise ValidationError("The infusion has not started: defer the session instead.")
    if session.status != SessionStatus.RECOVERING:
        raise _closed_error(session, tz)
    name = escort_name.strip()
    if escort_confirmed and not name:
        raise ValidationError({"escort_name": "Enter the escort's name."})
    now = _now()
    policy = _policy(session)
    gate = monitoring.discharge_check(
        aldrete_answers=session.aldrete_answers,
        escort_confirmed=bool(escort_confirmed),
        # A back-dated stop does not shorten the observation (gate 7).
        infusion_ended_at=session.observed_from or session.ended_at,
        now=now,
        policy=policy.monitoring_policy(),
    )
    errors: dict[str, list[str]] = {}
    for finding in gate.missing:
        errors.setdefault(finding.field, []).append(finding.message)
    assert session.ended_at is not None  # recovering: the stop was charted
    for finding in monitoring.discharge_vitals_missing(
        last_vitals_at=session.last_vitals_at, ended_at=session.ended_at, now=now
    ):
        errors.setdefault(finding.field, []).append(finding.message)
    if session.open_alerts:
        errors.setdefault("alerts", []).append(
            f"{session.open_alerts} alert(s) not yet acknowledged."
        )
    if session.open_deviations:
        errors.setdefault("deviations", []).append(
            f"{charting.DOSE_GATE}: {session.open_deviations} dose deviation(s) not yet reviewed "
            "by a physician."
        )
    if errors:
        raise ValidationError(errors)
    session.status = SessionStatus.DISCHARGED
    session.discharged_at = now
    session.discharged_by = _user(actor)
    session.escort_name = name[:200]
    session.escort_confirmed_at = now
    session.discharge_values = {
        "aldrete": gate.aldrete.total if gate.aldrete else None,
        "observed_min": round(gate.observed_min or 0, 1),
        "policy_version": policy.version,
        "discharge_min_aldrete": policy.discharge_min_aldrete,
        "discharge_min_observation_min": policy.discharge_min_observation_min,
        "vitals_before_discharge_min": gates.VITALS_BEFORE_DISCHARGE_MIN,
        "last_vitals_at": session.last_vitals_at.isoformat() if session.last_vitals_at else None,
    }
    _save(session)
    _appointment_set_status(session.appointment, AppointmentStatus.COMPLETED, actor)
    _audit(actor, session, "discharge", policy_version=policy.version)
    return session


@transaction.atomic
def session_sign(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    gap_reason: str = "",
) -> InfusionSession:
    """A physician signs the session: from then on it is read-only; corrections are addenda.
    Open dose deviations block it; vitals gaps longer than twice the interval need a written
    reason (gate 6)."""
    session = _locked(actor, session_id, expected_version, roles=SIGNERS)
    if session.status not in (SessionStatus.DISCHARGED, SessionStatus.DEFERRED):
        raise ValidationError("Sign the session after the patient is discharged (or deferred).")
    if session.open_alerts:
        raise ValidationError("Acknowledge every alert before signing.")
    if session.open_deviations:
        raise ValidationError(
            f"{charting.DOSE_GATE}: a physician must review every dose deviation before signing."
        )
    record = getattr(session, "controlled_substance", None)
    if record is not None and not record.is_reconciled:
        raise ValidationError("Reconcile the controlled-substance record before signing.")
    gaps = vitals_gaps_of(session)
    why = gap_reason.strip()
    if gaps and len(why) < gates.MIN_REASON_LENGTH:
        tz = _tz(session)
        listed = "; ".join(
            f"{_clock(g.since, tz)} to {_clock(g.until, tz)} ({g.minutes:.0f} min)" for g in gaps
        )
        raise ValidationError(
            {
                "gap_reason": f"{monitoring.MONITORING_GATE}: vitals were not charted for longer "
                f"than twice the {_policy(session).vitals_interval_min}-min interval ({listed}): "
                f"write the reason (at least {gates.MIN_REASON_LENGTH} characters) to sign."
            }
        )
    session.signed_at = _now()
    session.signed_by = _user(actor)
    session.monitoring_gap_reason = why if gaps else ""
    _save(session)
    _audit(
        actor,
        session,
        "sign",
        action=Action.SIGN,
        **({"vitals_gaps": len(gaps), "fields": ["monitoring_gap_reason"]} if gaps else {}),
    )
    return session


def vitals_gaps_of(session: InfusionSession) -> tuple[monitoring.VitalsGap, ...]:
    """The stretches of the infusion without vitals longer than twice the clinic's interval."""
    if session.started_at is None or session.ended_at is None:
        return ()
    # An entry counts when it holds every sign of the set (gate 6), as in ``vitals_record``.
    taken = list(
        ChartEntry.objects.filter(session=session, observations__code__in=_VITAL_CODES)
        .values("pk", "taken_at")
        .annotate(signs=Count("observations__code", distinct=True))
        .filter(signs=len(_VITAL_CODES))
        .values_list("taken_at", flat=True)
    )
    return monitoring.vitals_gaps(
        taken=taken,
        started_at=session.started_at,
        ended_at=session.ended_at,
        longer_than_min=2 * _policy(session).vitals_interval_min,
    )


# The codes that make a set of vitals (pain and the scales do not).
_VITAL_CODES = tuple(LOINC_OF[n] for n in monitoring.VITALS_SET)


@transaction.atomic
def dose_deviation_review(
    *,
    actor: Actor,
    session_id: uuid.UUID | str,
    expected_version: int,
    deviation_id: uuid.UUID | str,
    note: str,
) -> DoseDeviation:
    """A physician reviews a dose deviation with a note (audited); until then it blocks
    discharge and signing (gate 4)."""
    session = _locked(actor, session_id, expected_version, roles=SIGNERS)
    try:
        key = uuid.UUID(str(deviation_id))
    except ValueError:
        raise ValidationError({"deviation": "Choose one of this session's deviations."}) from None
    deviation = session.dose_deviations.filter(public_id=key).first()
    if deviation is None:
        raise ValidationError({"deviation": "Choose one of this session's deviations."})
    if not deviation.is_open:
        raise ValidationError("This dose deviation was already reviewed.")
    text = note.strip()
    if len(text) < gates.MIN_REASON_LENGTH:
        raise ValidationError(
            {
                "note": f"{charting.DOSE_GATE}: write the review (at least "
                f"{gates.MIN_REASON_LENGTH} characters)."
            }
        )
    deviation.reviewed_at = _now()
    deviation.reviewed_by = _user(actor)
    deviation.review_note = text[:2000]
    deviation.full_clean(exclude=["session", "reviewed_by"])
    deviation.save()
    session.open_deviations = max(session.open_deviations - 1, 0)
    _save(session)
    _audit(
        actor,
        session,
        "dose_deviation_review",
        action=Action.UPDATE,
        deviation=str(deviation.public_id),
    )
    return deviation


@transaction.atomic
def addendum_add(
    *, actor: Actor, session_id: uuid.UUID | str, expected_version: int, text: str
) -> InfusionSession:
    session = _locked(actor, session_id, expected_version, allow_signed=True)
    if not session.is_signed:
        raise ValidationError("Addenda are for signed sessions; chart the entry directly.")
    body = text.strip()
    if not body:
        raise ValidationError({"text": "Write the addendum."})
    if len(body) > 4000:
        raise ValidationError({"text": "Keep an addendum under 4000 characters."})
    session.addenda.create(text=body, author=_user(actor))
    _save(session)
    _audit(actor, session, "addendum", action=Action.CREATE)
    return session
