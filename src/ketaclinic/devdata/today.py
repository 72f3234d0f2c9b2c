"""The demo clinic's today: something on every role's worklist the day ``ketaclinic demo`` runs.

Physician: a new-patient consultation and a follow-up today, a plan drafted for Bob's relapse
(to sign), and, with the history, Hector's new exam with its decision to sign, the last week's
sessions to sign and one dose deviation to review. Front desk: a no-show yesterday to call back,
a booking made online a moment ago, a waitlist offer out. Clinic admin: a safety-setting change
waiting for a second physician and a staff invitation not yet accepted. The nurses' chairs and
the booster queue come from ``infusion_day`` and ``history``.

Through the apps' services where one exists for the step (consultation, plan, proposal,
invitation: audited as a real action would be); appointments, the waitlist offer and the
deviation are rows written directly, as ``_load_schedule`` and the seeder do (their services
need a free slot found by a person, a freed slot, or a nurse's reconciliation at the bedside).
Each item is added once: a second run finds it and leaves it alone.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db import transaction
from django.utils import timezone

from ketaclinic.accounts.api import staff_invitation_create
from ketaclinic.accounts.models import Role, StaffInvitation, User
from ketaclinic.assessments.api import (
    ExamInput,
    GradeInput,
    HistoryInput,
    consultation_exam_save,
    consultation_grade_save,
    consultation_history_save,
    consultation_start,
)
from ketaclinic.assessments.models import Consultation, ConsultationStatus
from ketaclinic.audit.api import Actor
from ketaclinic.clinical import charting
from ketaclinic.clinical.instruments import REGISTRY
from ketaclinic.clinics.api import clinic_policy_current, policy_proposal_create
from ketaclinic.clinics.models import Clinic, Location, PolicyProposal, ProposalStatus
from ketaclinic.infusions.models import DeviationTrigger, DoseDeviation, InfusionSession
from ketaclinic.patients.models import Patient
from ketaclinic.plans.api import plan_create
from ketaclinic.plans.models import Plan, PlanStatus
from ketaclinic.scheduling.api import free_slots
from ketaclinic.scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    AppointmentType,
    OfferStatus,
    WaitlistEntry,
    WaitlistOffer,
)

DEMO_DOMAIN = "demo.ketaclinic.test"  # the demo log-ins' domain (``demo`` imports it from here)
INVITED_EMAIL = f"new.nurse@{DEMO_DOMAIN}"
# The physician's weekly days (demo.PHYSICIAN_HOURS): Cleveland Mon/Wed/Fri, Charlotte Tue/Thu.
CHARLOTTE_WEEKDAYS = (1, 3)


def _user(email: str) -> User:
    return User.objects.get(email=email)


def _patient(clinic: Clinic, given: str) -> Patient:
    return Patient.objects.select_related("home_location").get(
        clinic=clinic, mrn__startswith="D", given_name=given
    )


def _type(clinic: Clinic, kind: str) -> AppointmentType:
    found = AppointmentType.objects.filter(clinic=clinic, kind=kind).order_by("pk").first()
    assert found is not None, f"the demo has no {kind} appointment type"
    return found


def _book(
    *,
    patient: Patient,
    location: Location,
    provider: User,
    kind: AppointmentType,
    start: dt.datetime,
    status: str = AppointmentStatus.BOOKED,
    online: bool = False,
) -> Appointment:
    end = start + dt.timedelta(minutes=kind.duration_min)
    return Appointment.objects.create(
        clinic=patient.clinic,
        location=location,
        provider=provider,
        patient=patient,
        type=kind,
        start=start,
        end=end,
        block_end=end + dt.timedelta(minutes=kind.buffer_min),
        status=status,
        booked_online=online,
        booked_by=None if online else _user(f"frontdesk@{DEMO_DOMAIN}"),
    )


def _visits_today(clinic: Clinic, locations: dict[str, Location], now: dt.datetime) -> None:
    """A new-patient consultation (Gwen) and a follow-up (Rashid) with the physician today, an
    hour apart from the next half hour (so they show as coming up), where she works that day."""
    physician = _user(f"physician@{DEMO_DOMAIN}")
    name = "Charlotte" if now.weekday() in CHARLOTTE_WEEKDAYS else "Cleveland"
    location = locations[name]
    zone = zoneinfo.ZoneInfo(location.time_zone)
    local = now.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if Appointment.objects.filter(
        clinic=clinic,
        provider=physician,
        start__gte=midnight,
        start__lt=midnight + dt.timedelta(days=1),
    ).exists():
        return
    start = local.replace(second=0, microsecond=0) + dt.timedelta(minutes=30)
    start = start.replace(minute=0 if start.minute < 30 else 30)
    # Keep both visits inside today (before 22:00), and not before opening at 09:00.
    start = max(min(start, midnight + dt.timedelta(hours=20)), midnight + dt.timedelta(hours=9))
    for offset, (given, kind) in enumerate(
        (("Gwen", AppointmentKind.CONSULTATION), ("Rashid", AppointmentKind.FOLLOW_UP))
    ):
        _book(
            patient=_patient(clinic, given),
            location=location,
            provider=physician,
            kind=_type(clinic, kind),
            start=start + dt.timedelta(hours=offset),
        )


def _no_show_yesterday(clinic: Clinic, locations: dict[str, Location], now: dt.datetime) -> None:
    """Liam missed yesterday's follow-up and has booked nothing since: a call back."""
    liam = _patient(clinic, "Liam")
    if Appointment.objects.filter(patient=liam, status=AppointmentStatus.NO_SHOW).exists():
        return
    location = liam.home_location or locations["Cleveland"]
    zone = zoneinfo.ZoneInfo(location.time_zone)
    yesterday = now.astimezone(zone).date() - dt.timedelta(days=1)
    _book(
        patient=liam,
        location=location,
        provider=_user(f"physician@{DEMO_DOMAIN}"),
        kind=_type(clinic, AppointmentKind.FOLLOW_UP),
        start=dt.datetime.combine(yesterday, dt.time(10, 30), tzinfo=zone),
        status=AppointmentStatus.NO_SHOW,
    )


def _online_booking_and_waitlist(clinic: Clinic, now: dt.datetime) -> None:
    """Quinn booked a consultation online a moment ago; Sofia, booked three weeks out, is on the
    waitlist and holds an offer of an earlier slot until tomorrow."""
    consultation = _type(clinic, AppointmentKind.CONSULTATION)
    today = timezone.localdate(now)
    quinn = _patient(clinic, "Quinn")
    if not Appointment.objects.filter(patient=quinn).exists() and quinn.home_location:
        slots = free_slots(
            location=quinn.home_location,
            appointment_type=consultation,
            day_from=today + dt.timedelta(days=4),
            day_to=today + dt.timedelta(days=14),
            now=now,
        )
        if slots:
            _book(
                patient=quinn,
                location=quinn.home_location,
                provider=_user(f"physician@{DEMO_DOMAIN}"),
                kind=consultation,
                start=slots[len(slots) // 2].start,
                online=True,
            )
    sofia = _patient(clinic, "Sofia")
    location = sofia.home_location
    if location is None or WaitlistEntry.objects.filter(patient=sofia).exists():
        return
    later = free_slots(
        location=location,
        appointment_type=consultation,
        day_from=today + dt.timedelta(days=20),
        day_to=today + dt.timedelta(days=30),
        now=now,
    )
    sooner = free_slots(
        location=location,
        appointment_type=consultation,
        day_from=today + dt.timedelta(days=2),
        day_to=today + dt.timedelta(days=9),
        now=now,
    )
    if not later or not sooner:
        return
    booked = _book(
        patient=sofia,
        location=location,
        provider=User.objects.get(pk=later[0].provider_id),
        kind=consultation,
        start=later[0].start,
    )
    entry = WaitlistEntry.objects.create(
        clinic=clinic, patient=sofia, location=location, type=consultation, appointment=booked
    )
    slot = sooner[0]
    WaitlistOffer.objects.create(
        entry=entry,
        provider_id=slot.provider_id,
        location=location,
        start=slot.start,
        end=slot.end,
        block_end=slot.block_end,
        expires_at=now + dt.timedelta(hours=20),
        status=OfferStatus.OPEN,
    )


def _decision_to_sign(clinic: Clinic) -> None:
    """Hector relapsed more than a year after his exam, so a booster needs a new one: the
    physician examined him this morning and the eligibility decision waits for her signature
    (only with the history, which gives him his first series)."""
    hector = _patient(clinic, "Hector")
    if not Plan.objects.filter(patient=hector).exists():
        return
    if Consultation.objects.filter(patient=hector, status=ConsultationStatus.DRAFT).exists():
        return
    actor = Actor(user=_user(f"physician@{DEMO_DOMAIN}"))
    draft = consultation_start(actor=actor, patient_public_id=str(hector.public_id))
    draft = consultation_history_save(
        actor=actor,
        public_id=str(draft.public_id),
        expected_version=draft.version,
        history=HistoryInput(
            pain_duration_months=40.0,
            pain_nrs=7,
            pain_regions=["lower_limb_left", "lower_limb_right"],
            pain_descriptors=["burning", "electric"],
            causes=["snomed|230572002"],
            prior_treatments={"gabapentin": "failed", "duloxetine": "intolerant"},
            history_notes="Relief for about 18 months after the series; burning feet again "
            "since August.",
        ),
    )
    dn4 = dict.fromkeys(REGISTRY["dn4"].item_keys, False)
    dn4.update(burning=True, electric_shocks=True, numbness=True, pinprick_hypoesthesia=True)
    draft = consultation_exam_save(
        actor=actor,
        public_id=str(draft.public_id),
        expected_version=draft.version,
        exam=ExamInput(
            systolic_bp=132,
            diastolic_bp=84,
            heart_rate=74,
            spo2=97,
            weight_kg=88.0,
            height_cm=176.0,
            respiratory_rate=14,
            temperature_c=36.7,
            sensory_signs=["pinprick_hypoesthesia"],
            dn4=dn4,
        ),
    )
    consultation_grade_save(
        actor=actor,
        public_id=str(draft.public_id),
        expected_version=draft.version,
        grade=GradeInput(
            history=True, plausible_distribution=True, sensory_signs=True, confirmatory_test=False
        ),
    )


def _plan_to_sign(clinic: Clinic, today: dt.date) -> None:
    """The physician drafted a new plan after Bob's relapse; it waits for her signature."""
    bob = _patient(clinic, "Bob")
    if Plan.objects.filter(patient=bob, status=PlanStatus.DRAFT).exists():
        return
    plan_create(
        actor=Actor(user=_user(f"physician@{DEMO_DOMAIN}")),
        patient_public_id=str(bob.public_id),
        goals="Regain the relief of the first series; walk to the end of the block without a rest.",
        review_date=today + dt.timedelta(days=90),
        components={
            "duloxetine": "60 mg once a day, continued.",
            "physical_therapy": "Weekly, six sessions, lower-limb strength and balance.",
        },
    )


def _admin_items(clinic: Clinic, locations: dict[str, Location]) -> None:
    """A raised session dose limit waiting for a second physician, and an invited nurse who has
    not yet accepted."""
    admin = Actor(user=_user(f"admin@{DEMO_DOMAIN}"))
    if not PolicyProposal.objects.filter(clinic=clinic, status=ProposalStatus.PENDING).exists():
        policy = clinic_policy_current(clinic_id=clinic.pk)
        policy_proposal_create(
            actor=admin,
            clinic=clinic,
            values={"max_session_mg": 250.0},
            based_on_version=policy.version,
            note="Heavier patients in the new Charlotte protocol need up to 250 mg per session.",
        )
    if not StaffInvitation.objects.filter(clinic=clinic, email=INVITED_EMAIL).exists():
        staff_invitation_create(
            actor=admin,
            email=INVITED_EMAIL,
            role=Role.NURSE,
            location_ids=[locations["Charlotte"].pk],
        )


def _deviation_to_review(clinic: Clinic, now: dt.datetime) -> None:
    """The nurse reconciled the latest unsigned session's dose at 2 mg more than the charted
    rates give, with her reason: a deviation for the physician to review (only with the
    history, which holds the sessions)."""
    if DoseDeviation.objects.filter(session__clinic=clinic).exists():
        return
    session = (
        InfusionSession.objects.filter(
            clinic=clinic, signed_at__isnull=True, discharged_at__isnull=False
        )
        .order_by("-discharged_at", "-pk")
        .first()
    )
    if session is None or session.plan_total_mg is None:
        return
    given = round(session.plan_total_mg + 2.0, 1)
    reason = "Line flushed after the pump stopped; the flush held drug."
    policy = clinic_policy_current(clinic_id=clinic.pk)
    DoseDeviation.objects.create(
        session=session,
        trigger=DeviationTrigger.RECONCILE,
        opened_at=min(now, (session.discharged_at or now) + dt.timedelta(minutes=10)),
        given_mg=session.plan_total_mg,
        plan_total_mg=session.plan_total_mg,
        excess_mg=2.0,
        entered_mg=given,
        reason=reason,
        message=(
            f"{charting.DOSE_GATE}: reconciled as {given} mg given, but the charted rates give "
            f"{session.plan_total_mg:.2f} mg (2.00 mg apart): {reason}"
        ),
        policy_version=policy.version,
        policy_values=policy.snapshot(),
    )
    InfusionSession.objects.filter(pk=session.pk).update(open_deviations=1)


@transaction.atomic
def load_demo_today(*, clinic: Clinic, now: dt.datetime | None = None) -> None:
    """Add what each role's worklist shows today (idempotent: each item once)."""
    moment = now or timezone.now()
    locations = {loc.name: loc for loc in Location.objects.filter(clinic=clinic)}
    _visits_today(clinic, locations, moment)
    _no_show_yesterday(clinic, locations, moment)
    _online_booking_and_waitlist(clinic, moment)
    _decision_to_sign(clinic)
    _plan_to_sign(clinic, timezone.localdate(moment))
    _admin_items(clinic, locations)
    _deviation_to_review(clinic, moment)
