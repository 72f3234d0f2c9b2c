"""Infusion days: a session taken from arrival to any later state through the infusions
services (``Day``, ``day_at``), and sessions written straight to the table for boards and
histories no service flow needs; and the demo clinic's infusion day for the browser tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from allauth.mfa.models import Authenticator
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from django.utils import timezone

from ketaclinic.accounts.api import ConfirmedIdentity, confirm_identity
from ketaclinic.accounts.models import User
from ketaclinic.audit.services import Actor
from ketaclinic.clinics.models import Chair, Location
from ketaclinic.devdata.demo import DEMO_DOMAIN, load_demo
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
from ketaclinic.plans.models import Plan, PlanStatus
from ketaclinic.scheduling.models import Appointment, AppointmentKind, AppointmentType
from tests.factories.accounts import unused_totp_code
from tests.factories.base import PASSWORD, actor, next_number
from tests.factories.patients import make_patient
from tests.factories.plans import make_plan, plan_for
from tests.factories.scheduling import book_infusion, chair, infusion_appointment
from tests.factories.world import World


def witness_proof(
    witness: User, *, by: User | None = None, password: str = PASSWORD
) -> ConfirmedIdentity:
    """The witness types their password and their app's code into ``by``'s form: checked as the
    close page does (``confirm_identity``, through the sign-in limit), from a POST at the test
    address."""
    request = RequestFactory().post("/")
    request.user = by if by is not None else AnonymousUser()
    enrolled = Authenticator.objects.filter(user=witness, type=Authenticator.Type.TOTP).exists()
    return confirm_identity(
        request,
        user=witness,
        password=password,
        code=unused_totp_code(witness) if enrolled else "",
        purpose="waste witness",
    )


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
# The reason the factories give for a time entered in the past (gate 7 asks for one past 10 min;
# a blank time needs none, so it is only read when a time is given).
LATE = "Charted after the event"


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

    def adverse_event(self, note: str = "", **overrides: Any) -> Any:
        """Nausea, mild, the rate reduced, resolved; ``overrides`` change any of it."""
        fields: dict[str, Any] = {
            "kind": "nausea_vomiting",
            "severity": "mild",
            "onset_at": None,
            "interventions": ["rate_reduced"],
            "outcome": "resolved",
        }
        return services.adverse_event_record(
            actor=self.nurse,
            session_id=self.session.public_id,
            expected_version=self.v,
            note=note,
            **(fields | overrides),
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
            witness=witness_proof(who, by=self.nurse.user),
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
        make_plan(world, who)
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


def charted_session(world: World, appointment: Appointment, *, given: bool) -> InfusionSession:
    """The appointment's infusion session straight in the database: given (started at the
    booked time, stopped 40 min later, discharged) or deferred before the start."""
    start = appointment.start
    values: dict[str, Any] = (
        {
            "status": SessionStatus.DISCHARGED,
            "started_at": start,
            "ended_at": start + dt.timedelta(minutes=40),
            "discharged_at": start + dt.timedelta(minutes=70),
            "discharged_by": world.nurse,
        }
        if given
        else {"status": SessionStatus.DEFERRED, "deferred_reason": "Blood pressure 172/104."}
    )
    return bare_session(
        world,
        appointment.patient,
        None,
        clinic=appointment.clinic,
        location=appointment.location,
        appointment=appointment,
        arrived_at=start - dt.timedelta(minutes=15),
        **values,
    )


def new_patient(world: World) -> Patient:
    n = next_number()
    return make_patient(world.clinic, given=f"Pat{n}", family="Board")


def demo_infusion_today(start: dt.datetime) -> tuple[Patient, Location]:
    """The demo clinic, with Eleanor Pratt's signed plan and her infusion booked today."""
    clinic = load_demo()
    # The demo books its own infusion for today; this test places Eleanor's at a time it controls.
    Appointment.objects.filter(clinic=clinic, type__kind=AppointmentKind.INFUSION).delete()
    cleveland = Location.objects.get(clinic=clinic, name="Cleveland")
    patient = Patient.objects.get(clinic=clinic, given_name="Eleanor", family_name="Pratt")
    physician = User.objects.get(email=f"physician@{DEMO_DOMAIN}")
    nurse = User.objects.get(email=f"nurse@{DEMO_DOMAIN}")
    plan_for(patient, physician)
    infusion = AppointmentType.objects.get(clinic=clinic, kind=AppointmentKind.INFUSION)
    chair_3 = Chair.objects.get(location=cleveland, name="Chair 3")
    book_infusion(infusion, cleveland, nurse, patient, start, chair=chair_3)
    return patient, cleveland
