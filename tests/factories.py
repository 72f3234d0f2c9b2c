"""Small factories: plain functions with sensible defaults, so a test says only what matters."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from allauth.account.models import EmailAddress

from ketaclinic.accounts.models import Role, User
from ketaclinic.assessments.models import (
    Consultation,
    ConsultationStatus,
    DecisionStatus,
    EligibilityDecision,
)
from ketaclinic.clinical.eligibility import RULESET_VERSION
from ketaclinic.clinics.models import Chair, Clinic, Location
from ketaclinic.clinics.services import clinic_defaults_install
from ketaclinic.patients.models import Patient

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


def make_clinic(name: str = "North Shore Pain Clinic") -> Clinic:
    n = next(_seq)
    clinic = Clinic.objects.create(name=name, slug=f"clinic-{n}")
    clinic_defaults_install(clinic=clinic)
    return clinic


def make_location(
    clinic: Clinic, name: str = "Cleveland", tz: str = "America/New_York", chairs: int = 2
) -> Location:
    location = Location.objects.create(
        clinic=clinic, name=name, city=name, region="OH", time_zone=tz
    )
    for i in range(1, chairs + 1):
        Chair.objects.create(location=location, name=f"Chair {i}")
    return location


def make_user(
    clinic: Clinic | None,
    role: Role | str,
    *,
    email: str | None = None,
    name: str = "",
    locations: tuple[Location, ...] = (),
    **extra: Any,
) -> User:
    email = email or f"user{next(_seq)}@example.test"
    user = User.objects.create_user(
        email, PASSWORD, role=role, clinic=clinic, full_name=name or email, **extra
    )
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    if locations:
        user.locations.add(*locations)
    return user


def make_patient(
    clinic: Clinic,
    *,
    given: str = "Pat",
    family: str = "Example",
    user: User | None = None,
    location: Location | None = None,
    **extra: Any,
) -> Patient:
    n = next(_seq)
    fields: dict[str, Any] = {
        "clinic": clinic,
        "mrn": f"T{n:06d}",
        "given_name": given,
        "family_name": family,
        "date_of_birth": dt.date(1970, 1, 1),
        "sex": "female",
        "email": f"patient{n}@example.test",
        "user": user,
        "home_location": location,
    }
    fields.update(extra)
    return Patient.objects.create(**fields)


def make_decision(
    patient: Patient,
    physician: User,
    *,
    outcome: str = "eligible",
    final: str | None = None,
    exam_date: dt.date | None = None,
    override_reason: str = "",
    signed: bool = True,
    weight_kg: float = 70.0,
    height_cm: float = 170.0,
    reasons: tuple[str, ...] = (),
) -> EligibilityDecision:
    """A consultation with its eligibility decision, as a physician would have signed it.

    ``final`` differs from ``outcome`` for an override (then ``override_reason`` is needed);
    ``signed=False`` leaves a draft. The exam records the weight and height the plan uses.
    """
    from django.utils import timezone

    now = timezone.now()
    exam_date = exam_date or timezone.localdate()
    final = outcome if final is None else final
    consultation = Consultation.objects.create(
        clinic_id=patient.clinic_id,
        patient=patient,
        exam_date=exam_date,
        status=ConsultationStatus.SIGNED if signed else ConsultationStatus.DRAFT,
        pain_nrs=7,
        pain_duration_months=18.0,
        weight_kg=weight_kg,
        height_cm=height_cm,
        created_by=physician,
        signed_by=physician if signed else None,
        signed_at=now if signed else None,
    )
    if not signed:
        status = DecisionStatus.DRAFT
    elif final != outcome:
        status = DecisionStatus.OVERRIDDEN
    else:
        status = DecisionStatus.SIGNED
    return EligibilityDecision.objects.create(
        consultation=consultation,
        clinic_id=patient.clinic_id,
        patient=patient,
        outcome=outcome,
        reasons=[
            {"code": f"reason_{i}", "outcome": outcome, "message": text, "source": "test"}
            for i, text in enumerate(reasons)
        ],
        ruleset_version=RULESET_VERSION,
        policy_version=1,
        evaluated_at=now,
        status=status,
        final_outcome=final if signed else "",
        override_reason=override_reason,
        signed_by=physician if signed else None,
        signed_at=now if signed else None,
    )


def ensure_eligible(patient: Patient, physician: User, *, exam_date: dt.date | None = None) -> None:
    """Give the patient a signed "eligible" decision unless one is already on record.

    ``exam_date`` places the exam near a test's own clock (a test that books in 2030 needs an
    exam from then: an exam more than 12 months before its "now" is no longer in force).
    """
    if not EligibilityDecision.objects.filter(patient=patient, final_outcome="eligible").exists():
        make_decision(patient, physician, exam_date=exam_date)
