"""Infusion-day fixtures: a signed plan with a ketamine dose, today's infusion appointment, and
steps that take a session from arrival to any later state through the real services."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone

from ketaclinic.accounts.models import Role, User
from ketaclinic.audit.services import Actor
from ketaclinic.clinics.models import Chair, Location
from ketaclinic.infusions import services
from ketaclinic.infusions.models import (
    ChartEntry,
    ControlledSubstanceRecord,
    InfusionSession,
    Observation,
    RateEvent,
    SessionStatus,
)
from ketaclinic.patients.models import Patient
from ketaclinic.plans.models import KetamineProtocol, Plan, PlanStatus
from ketaclinic.scheduling.models import Appointment, AppointmentKind, AppointmentType
from tests import factories
from tests.conftest import World

_seq = itertools.count(1)

GOOD_VITALS: dict[str, Any] = {
    "systolic_bp": 128,
    "diastolic_bp": 78,
    "heart_rate": 72,
    "spo2": 98,
    "respiratory_rate": 14,
}
ALDRETE_9 = {
    "activity": 2,
    "respiration": 2,
    "circulation": 2,
    "consciousness": 1,
    "oxygen_saturation": 2,
}
ALDRETE_8 = {**ALDRETE_9, "activity": 1}
# The reason the helpers give for a time entered in the past (gate 7 asks for one past 10 min;
# a blank time needs none, so it is only read when a time is given).
LATE = "Charted after the event"


def actor(user: User) -> Actor:
    return Actor(user=user, ip="127.0.0.1")


def infusion_type(world: World) -> AppointmentType:
    found = AppointmentType.objects.filter(
        clinic=world.clinic, kind=AppointmentKind.INFUSION
    ).first()
    if found is not None:
        return found
    return AppointmentType.objects.create(
        clinic=world.clinic,
        kind=AppointmentKind.INFUSION,
        name="Ketamine infusion",
        duration_min=40,
        buffer_min=0,
        provider_role=Role.NURSE,
        needs_chair=True,
    )


def signed_plan(world: World, patient: Patient, *, rate_mg_per_h: float = 52.5) -> Plan:
    """A signed plan: 0.5 mg/kg over 40 min for 70 kg, 10 mg/mL = 35 mg at 5.25 mL/h."""
    return signed_plan_for(patient, world.physician, rate_mg_per_h=rate_mg_per_h)


def signed_plan_for(patient: Patient, physician: User, *, rate_mg_per_h: float = 52.5) -> Plan:
    factories.ensure_eligible(patient, physician)
    number = Plan.objects.filter(patient=patient).count() + 1
    now = timezone.now()
    plan = Plan.objects.create(
        clinic_id=patient.clinic_id,
        patient=patient,
        number=number,
        status=PlanStatus.SIGNED,
        created_by=physician,
        signed_by=physician,
        signed_at=now,
    )
    KetamineProtocol.objects.create(
        plan=plan,
        template_name="Cleveland Clinic 0.5 mg/kg over 40 min",
        weight_kg=70.0,
        height_cm=170.0,
        sex=patient.sex,
        dosing_basis="actual",
        dose_mg_per_kg=0.5,
        duration_min=40,
        concentration_mg_per_ml=10.0,
        sessions_count=5,
        pattern="weekdays",
        pk_model="domino",
        dosing_weight_kg=70.0,
        total_mg=35.0,
        rate_mg_per_h=rate_mg_per_h,
        rate_ml_per_h=rate_mg_per_h / 10,
        volume_ml=3.5,
        policy_version=1,
        policy_values={},
    )
    return plan


def today_start(location: Location) -> dt.datetime:
    """A start time today at the location, early enough that arrival "now" is after it."""
    tz = zoneinfo.ZoneInfo(location.time_zone)
    now = timezone.now().astimezone(tz).replace(second=0, microsecond=0)
    midnight = now.replace(hour=0, minute=0)
    return max(midnight, now - dt.timedelta(minutes=5))


def infusion_appointment(
    world: World,
    patient: Patient,
    *,
    location: Location | None = None,
    chair: Chair | None = None,
    provider: User | None = None,
    start: dt.datetime | None = None,
) -> Appointment:
    where = location or world.cleveland
    begin = start or today_start(where)
    kind = infusion_type(world)
    if provider is None:
        # A nurse of their own for each appointment: one provider's bookings may not overlap.
        provider = factories.make_user(world.clinic, Role.NURSE, locations=(where,))
    return Appointment.objects.create(
        clinic=world.clinic,
        location=where,
        provider=provider,
        patient=patient,
        type=kind,
        start=begin,
        end=begin + dt.timedelta(minutes=40),
        block_end=begin + dt.timedelta(minutes=100),
        chair=chair,
    )


def chair(world: World, name: str = "Chair 1", location: Location | None = None) -> Chair:
    return Chair.objects.get(location=location or world.cleveland, name=name)


@dataclass
class Day:
    """One patient's infusion day, advanced step by step through the services."""

    world: World
    session: InfusionSession

    @property
    def nurse(self) -> Actor:
        return actor(self.world.nurse)

    @property
    def doctor(self) -> Actor:
        return actor(self.world.physician)

    def reload(self) -> InfusionSession:
        self.session.refresh_from_db()
        return self.session

    @property
    def v(self) -> int:
        return self.reload().version

    def precheck(self, **overrides: Any) -> Any:
        args: dict[str, Any] = {
            "taken_at": None,
            "vitals": dict(GOOD_VITALS),
            "fasting": True,
            "escort_arranged": True,
            "consent_confirmed": True,
            "pain_nrs": 7,
            "weight_kg": 70.0,
            "time_reason": LATE,
        }
        args.update(overrides)
        return services.precheck_record(
            actor=self.nurse, session_id=self.session.public_id, expected_version=self.v, **args
        )

    def draw(self, drawn_mg: str = "50", **overrides: Any) -> Any:
        args: dict[str, Any] = {
            "lot": "KET-2291",
            "expiry": timezone.localdate() + dt.timedelta(days=200),
            "drawn_mg": Decimal(drawn_mg),
        }
        args.update(overrides)
        return services.controlled_draw_record(
            actor=self.nurse, session_id=self.session.public_id, expected_version=self.v, **args
        )

    def start(self, rate: str = "5.25", at: dt.datetime | None = None) -> Any:
        return services.infusion_start(
            actor=self.nurse,
            session_id=self.session.public_id,
            expected_version=self.v,
            at=at,
            rate_ml_per_h=Decimal(rate),
            time_reason=LATE,
        )

    def rate(self, rate: str, at: dt.datetime | None = None, reason: str = "") -> Any:
        return services.infusion_rate_set(
            actor=self.nurse,
            session_id=self.session.public_id,
            expected_version=self.v,
            at=at,
            rate_ml_per_h=Decimal(rate),
            reason=reason,
            time_reason=LATE,
        )

    def stop(self, at: dt.datetime | None = None) -> Any:
        return services.infusion_stop(
            actor=self.nurse,
            session_id=self.session.public_id,
            expected_version=self.v,
            at=at,
            time_reason=LATE,
        )

    def vitals(self, taken_at: dt.datetime | None = None, **values: Any) -> Any:
        rass = values.pop("rass", None)
        moaas = values.pop("moaas", None)
        pain = values.pop("pain_nrs", None)
        vitals = {**GOOD_VITALS, **values}
        return services.vitals_record(
            actor=self.nurse,
            session_id=self.session.public_id,
            expected_version=self.v,
            taken_at=taken_at,
            vitals=vitals,
            rass=rass,
            moaas=moaas,
            pain_nrs=pain,
            time_reason=LATE,
        )

    def aldrete(self, answers: dict[str, int] | None = None, pain_nrs: int | None = 3) -> Any:
        return services.recovery_assess(
            actor=self.nurse,
            session_id=self.session.public_id,
            expected_version=self.v,
            taken_at=None,
            aldrete=answers or ALDRETE_9,
            pain_nrs=pain_nrs,
        )

    def discharge(self, name: str = "Maria Moreno", confirmed: bool = True) -> Any:
        return services.session_discharge(
            actor=self.nurse,
            session_id=self.session.public_id,
            expected_version=self.v,
            escort_name=name,
            escort_confirmed=confirmed,
        )

    def reconcile(self, given: str = "35", wasted: str = "15", witness: User | None = None) -> Any:
        who = witness if witness is not None else self.world.physician
        return services.controlled_reconcile(
            actor=self.nurse,
            session_id=self.session.public_id,
            expected_version=self.v,
            given_mg=Decimal(given),
            wasted_mg=Decimal(wasted),
            witness_id=who.pk,
            witness_password=factories.PASSWORD,
        )

    def sign(self) -> Any:
        return services.session_sign(
            actor=self.doctor, session_id=self.session.public_id, expected_version=self.v
        )

    def backdate(self, minutes: int) -> None:
        """Move every recorded time of the session back (as if it happened earlier today)."""
        delta = dt.timedelta(minutes=minutes)
        s = self.reload()
        for name in (
            "arrived_at",
            "started_at",
            "ended_at",
            "observed_from",
            "last_vitals_at",
            "rate_since",
            "aldrete_at",
        ):
            value = getattr(s, name)
            if value is not None:
                setattr(s, name, value - delta)
        s.save()
        for event in RateEvent.objects.filter(session=s):
            event.at -= delta
            event.save(update_fields=["at"])
        for entry in ChartEntry.objects.filter(session=s):
            entry.taken_at -= delta
            entry.save(update_fields=["taken_at"])
        for check in s.prechecks.all():
            check.taken_at -= delta
            check.save(update_fields=["taken_at"])
        for record in ControlledSubstanceRecord.objects.filter(session=s):
            record.drawn_at -= delta
            record.save(update_fields=["drawn_at"])
        Observation.objects.filter(session=s).update(taken_at=s.arrived_at)


def arrive(world: World, patient: Patient | None = None, *, chair_name: str = "Chair 1") -> Day:
    who = patient or world.alice_patient
    if not Plan.objects.filter(patient=who, status=PlanStatus.SIGNED).exists():
        signed_plan(world, who)
    appointment = infusion_appointment(world, who, chair=chair(world, chair_name))
    session = services.session_arrive(
        actor=actor(world.nurse), appointment_id=appointment.public_id
    )
    return Day(world=world, session=session)


def day_at(
    world: World, state: str, patient: Patient | None = None, *, chair_name: str = "Chair 1"
) -> Day:
    """A session advanced to ``state`` (arrived, precheck, infusing, recovering, discharged,
    signed); times are backdated so the observation period has passed where it matters."""
    day = arrive(world, patient, chair_name=chair_name)
    if state == "arrived":
        return day
    day.backdate(120)
    day.precheck()
    if state == "precheck":
        return day
    day.draw()
    day.start()
    if state == "infusing":
        return day
    # Vitals every 20 min while infusing (no gap past twice the interval), one after the stop and
    # one just before discharge (gate 6).
    day.backdate(20)
    day.vitals()
    day.backdate(20)
    day.stop()
    if state == "recovering":
        return day
    day.backdate(40)
    day.vitals()
    day.aldrete()
    day.discharge()
    if state == "discharged":
        return day
    day.reconcile()
    day.sign()
    assert day.reload().status == SessionStatus.DISCHARGED
    return day


def bare_session(
    world: World, patient: Patient, chair_obj: Chair | None, **fields: Any
) -> InfusionSession:
    """A session row straight in the database (for board sizes no service flow needs)."""
    values: dict[str, Any] = {
        "clinic": world.clinic,
        "location": world.cleveland,
        "chair": chair_obj,
        "patient": patient,
        "status": SessionStatus.ARRIVED,
        "arrived_at": timezone.now() - dt.timedelta(minutes=30),
        "arrived_by": world.nurse,
    }
    values.update(fields)
    return InfusionSession.objects.create(**values)


def new_patient(world: World) -> Patient:
    n = next(_seq)
    return factories.make_patient(world.clinic, given=f"Pat{n}", family="Board")
