"""Reads of consultations and eligibility decisions: bounded queries, page reads audited."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Collection
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone

from ketaclinic.assessments import intake
from ketaclinic.assessments.access import READERS, access_consultation
from ketaclinic.assessments.models import (
    Addendum,
    Cause,
    Consultation,
    ConsultationStatus,
    DecisionStatus,
    EligibilityDecision,
    HistoryPrefill,
    Observation,
    PriorTreatment,
)
from ketaclinic.assessments.vocab import BODY_REGIONS, PAIN_DESCRIPTORS, SENSORY_SIGNS
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinical.eligibility import CONDITIONS, THERAPIES
from ketaclinic.clinical.gates import DecisionOnRecord, InForce, eligibility_in_force
from ketaclinic.clinical.grading import SOURCE as GRADE_SOURCE
from ketaclinic.clinical.instruments import REGISTRY
from ketaclinic.clinics.api import clinic_policy_current
from ketaclinic.patients.api import access_patient
from ketaclinic.patients.models import Patient
from ketaclinic.screening.api import selfcheck_answers_for_intake


@dataclass(frozen=True)
class ExamMeasurements:
    """The measured weight and height of one exam, with the exam they came from."""

    weight_kg: float
    height_cm: float
    exam_date: dt.date
    consultation_id: int


def latest_exam_measurements(*, patient: Patient) -> ExamMeasurements | None:
    """The newest consultation exam that recorded both weight and height, with its date: one query.

    An internal read for other services (the plan's dosing weight), not a page: the caller's own
    page read is what gets audited. Drafts count: today's exam is the best weight there is.
    """
    row = (
        Consultation.objects.filter(
            patient=patient, weight_kg__isnull=False, height_cm__isnull=False
        )
        .order_by("-exam_date", "-id")
        .values_list("weight_kg", "height_cm", "exam_date", "id")
        .first()
    )
    if row is None:
        return None
    weight, height, exam_date, consultation_id = row
    # Both filtered non-null above.
    assert weight is not None
    assert height is not None
    return ExamMeasurements(weight, height, exam_date, consultation_id)


def latest_body_measurements(*, patient: Patient) -> tuple[float, float] | None:
    """(weight_kg, height_cm) from the patient's newest consultation exam that recorded both."""
    found = latest_exam_measurements(patient=patient)
    return None if found is None else (found.weight_kg, found.height_cm)


def latest_decision(*, patient: Patient) -> EligibilityDecision | None:
    """The patient's newest signed (or overridden) eligibility decision, or None.

    Unsigned drafts are left out: a draft is re-evaluated on every edit and decides nothing until
    a physician signs it. ``final_outcome`` is the outcome in force.
    """
    return (
        EligibilityDecision.objects.filter(patient=patient)
        .exclude(status=DecisionStatus.DRAFT)
        .select_related("consultation", "signed_by")
        .order_by("-consultation__exam_date", "-signed_at", "-id")
        .first()
    )


def _on_record(decision: EligibilityDecision, exam_date: dt.date) -> DecisionOnRecord:
    return DecisionOnRecord(
        decision_id=str(decision.public_id),
        exam_date=exam_date,
        engine_outcome=decision.outcome,  # type: ignore[arg-type]  # choices are the three
        final_outcome=decision.final_outcome,  # type: ignore[arg-type]
        overridden=decision.status == DecisionStatus.OVERRIDDEN,
        override_reason=decision.override_reason,
        signed_at=decision.signed_at,
        reasons=tuple(str(r.get("message", "")) for r in decision.reasons if r.get("message")),
    )


def eligibility_in_force_for_patients(
    *, clinic_id: int, patient_ids: Collection[int], today: dt.date
) -> dict[int, InForce]:
    """Gate 1 for patients of one clinic: the decision in force on ``today`` (the location's
    calendar day) for each. Two queries whatever the count: the policy and the decisions.

    An internal read: callers audit their own page.
    """
    valid_months = clinic_policy_current(clinic_id=clinic_id).eligibility_valid_months
    found: dict[int, list[DecisionOnRecord]] = {pk: [] for pk in patient_ids}
    rows = EligibilityDecision.objects.filter(
        clinic_id=clinic_id, patient_id__in=list(patient_ids)
    ).select_related("consultation")
    for d in rows:
        # An exam dated after the location's today (a consultation typed with a future date in
        # another zone) cannot be in force yet: left out instead of failing the page.
        if d.consultation.exam_date <= today:
            found[d.patient_id].append(_on_record(d, d.consultation.exam_date))
    return {
        pk: eligibility_in_force(decisions, today=today, valid_months=valid_months)
        for pk, decisions in found.items()
    }


def eligibility_in_force_for(*, patient: Patient, today: dt.date) -> InForce:
    """Gate 1 for one patient. Every entry point that plans, books or infuses ketamine asks
    this (plan signing, bookings, pre-check, start), and the pages that show the decision."""
    return eligibility_in_force_for_patients(
        clinic_id=patient.clinic_id, patient_ids=[patient.pk], today=today
    )[patient.pk]


class EligibilityGateError(ValidationError):
    """Ketamine refused: no eligibility decision in force allows it (clinical.gates, gate 1)."""


def require_eligibility_in_force(
    *, patient: Patient, today: dt.date, action: str, with_reasons: bool = True
) -> InForce:
    """The decision in force, or ``EligibilityGateError`` naming the gate and its reasons.

    ``action`` completes the sentence "Cannot <action>": "sign a plan with a ketamine protocol",
    "book an infusion series", "start the infusion". ``with_reasons=False`` words the refusal
    without the clinical reasons (for the front desk, who books but does not treat).
    """
    in_force = eligibility_in_force_for(patient=patient, today=today)
    if not in_force.allowed:
        why = in_force.message if with_reasons else in_force.verdict
        raise EligibilityGateError(
            f"Eligibility gate: cannot {action}. {why}", code="eligibility_gate"
        )
    return in_force


def consultations_of(*, patient: Patient) -> list[Consultation]:
    """The patient's consultations, newest first, each with its decision: one query.

    For the patient chart's timeline, whose own read is audited by its caller.
    """
    return list(
        Consultation.objects.filter(patient=patient)
        .select_related("decision", "created_by", "signed_by")
        .order_by("-exam_date", "-id")
    )


THRESHOLD_LABELS = {
    "min_age_years": "Minimum age (years)",
    "crisis_systolic_bp": "Blood-pressure crisis, systolic (mmHg)",
    "crisis_diastolic_bp": "Blood-pressure crisis, diastolic (mmHg)",
    "elevated_systolic_bp": "Elevated blood pressure, systolic (mmHg)",
    "elevated_diastolic_bp": "Elevated blood pressure, diastolic (mmHg)",
    "max_heart_rate": "Maximum heart rate (/min)",
    "min_spo2": "Minimum SpO2 (%)",
    "chronic_pain_months": "Chronic after (months)",
    "first_line_classes_required": "First-line classes tried and failed, required",
}

FACT_LABELS = {
    "age_years": "Age on the exam date (years)",
    "pain_duration_months": "Pain duration (months)",
    "systolic_bp": "Systolic BP (mmHg)",
    "diastolic_bp": "Diastolic BP (mmHg)",
    "heart_rate": "Heart rate (/min)",
    "spo2": "SpO2 (%)",
    "weight_kg": "Weight (kg)",
}


@dataclass(frozen=True)
class Dn4Row:
    key: str
    wording: str
    part: str
    answer: bool | None


@dataclass(frozen=True)
class ConsultationPage:
    consultation: Consultation
    patient: Patient
    causes: list[Cause]
    prior_treatments: list[PriorTreatment]
    observations: list[Observation]
    addenda: list[Addendum]
    decision: EligibilityDecision | None
    missing_facts: list[str]
    dn4_rows: list[Dn4Row]
    current_policy_version: int
    prefill: HistoryPrefill | None = None

    @property
    def prefill_fields(self) -> list[str]:
        """The history's values that came from the self-check and were confirmed, in words."""
        if self.prefill is None:
            return []
        return [label for name, label in PREFILL_LABELS.items() if name in self.prefill.fields]

    @property
    def selfcheck_taken_on(self) -> dt.date | None:
        if self.prefill is None:
            return None
        return local_date(self.patient, self.prefill.selfcheck.created_at)

    @property
    def prefill_confirmed_on(self) -> dt.date | None:
        if self.prefill is None:
            return None
        return local_date(self.patient, self.prefill.confirmed_at)

    @property
    def regions(self) -> list[str]:
        return [BODY_REGIONS[c] for c in self.consultation.pain_regions if c in BODY_REGIONS]

    @property
    def descriptors(self) -> list[str]:
        return [
            PAIN_DESCRIPTORS[c] for c in self.consultation.pain_descriptors if c in PAIN_DESCRIPTORS
        ]

    @property
    def sensory_signs(self) -> list[str]:
        return [SENSORY_SIGNS[c] for c in self.consultation.sensory_signs if c in SENSORY_SIGNS]

    @property
    def conditions(self) -> list[tuple[str, str]]:
        """(label, outcome it triggers) for each recorded condition."""
        return [
            (CONDITIONS[c].label, CONDITIONS[c].outcome)
            for c in self.consultation.conditions
            if c in CONDITIONS
        ]

    @property
    def thresholds(self) -> list[tuple[str, object]]:
        """The eligibility thresholds the decision used, labelled."""
        if self.decision is None:
            return []
        used = self.decision.policy_values.get("eligibility", {})
        return [(label, used[key]) for key, label in THRESHOLD_LABELS.items() if key in used]

    @property
    def facts(self) -> list[tuple[str, object]]:
        if self.decision is None:
            return []
        facts = self.decision.facts
        rows: list[tuple[str, object]] = [
            (label, facts[key]) for key, label in FACT_LABELS.items() if key in facts
        ]
        rows.append(
            (
                "Conditions",
                ", ".join(
                    CONDITIONS[c].label for c in facts.get("conditions", []) if c in CONDITIONS
                )
                or "none",
            )
        )
        rows.append(
            (
                "Prior therapies",
                ", ".join(
                    f"{THERAPIES[t].label}: {o}"
                    for t, o in facts.get("prior_therapies", {}).items()
                    if t in THERAPIES
                )
                or "none",
            )
        )
        return rows

    @property
    def dn4_source(self) -> str:
        return REGISTRY["dn4"].source

    @property
    def grade_source(self) -> str:
        return GRADE_SOURCE

    @property
    def policy_changed(self) -> bool:
        return (
            self.decision is not None
            and not self.decision.is_signed
            and self.decision.policy_version != self.current_policy_version
        )


def dn4_rows(answers: dict[str, bool]) -> list[Dn4Row]:
    instrument = REGISTRY["dn4"]
    interview = set(REGISTRY["dn4-interview"].item_keys)
    return [
        Dn4Row(
            key=item.key,
            wording=item.wording,
            part="interview" if item.key in interview else "examination",
            answer=answers.get(item.key),
        )
        for item in instrument.items
    ]


def _page_related(qs: QuerySet[Consultation]) -> QuerySet[Consultation]:
    return qs.select_related(
        "appointment__location",
        "decision__signed_by",
        "patient__home_location",
        "prefill__selfcheck",
        "prefill__confirmed_by",
    ).prefetch_related(
        "causes",
        "prior_treatments",
        "observations",
        Prefetch("addenda", queryset=Addendum.objects.select_related("author")),
    )


def consultation_page(*, actor: Actor, public_id: str) -> ConsultationPage:
    """Everything the consultation page shows, in a fixed number of queries; the read is
    audited."""
    assert actor.user is not None
    with transaction.atomic():
        consultation = access_consultation(
            actor.user, public_id, for_write=False, related=_page_related
        )
        decision = getattr(consultation, "decision", None)
        page = ConsultationPage(
            consultation=consultation,
            patient=consultation.patient,
            causes=list(consultation.causes.all()),
            prior_treatments=list(consultation.prior_treatments.all()),
            observations=list(consultation.observations.all()),
            addenda=list(consultation.addenda.all()),
            decision=decision,
            missing_facts=consultation.missing_facts(),
            dn4_rows=dn4_rows(consultation.dn4_answers),
            current_policy_version=clinic_policy_current(clinic_id=consultation.clinic_id).version,
            prefill=getattr(consultation, "prefill", None),
        )
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="consultation",
            object_id=consultation.public_id,
            patient=consultation.patient,
        )
    return page


PREFILL_LABELS = {
    "pain_duration_months": "pain duration",
    "pain_regions": "where the pain is",
    "pain_descriptors": "how it feels",
    "prior_treatments": "treatments tried",
}


def local_date(patient: Patient, moment: dt.datetime) -> dt.date:
    """The calendar day of ``moment`` where the patient is seen (her home location's zone)."""
    if patient.home_location is not None:
        return moment.astimezone(zoneinfo.ZoneInfo(patient.home_location.time_zone)).date()
    return timezone.localdate(moment)


@dataclass(frozen=True)
class HistoryOffer:
    """The self-check's answers offered to a history form: only for values not yet recorded."""

    selfcheck_id: uuid.UUID
    taken_on: dt.date
    offer: intake.Offer


def history_offer(*, page: ConsultationPage) -> HistoryOffer | None:
    """What the patient's newest self-check offers this draft's history form, or None: two
    queries (the self-check, and whether another consultation's history already started from it).

    None once the history has been saved with an offer (confirmed or declined, ``HistoryPrefill``)
    or when the consultation is signed. A value already recorded is never overwritten by the
    offer. Read inside the consultation page, whose read event covers it.
    """
    consultation = page.consultation
    if consultation.is_locked or page.prefill is not None:
        return None
    answers = selfcheck_answers_for_intake(patient=page.patient)
    if answers is None:
        return None
    # A self-check starts one history: the consultation it was taken for. A later consultation
    # (months on, a follow-up) would otherwise be offered the same, by then stale, answers.
    if (
        HistoryPrefill.objects.filter(selfcheck__public_id=answers.public_id)
        .exclude(consultation=consultation)
        .exists()
    ):
        return None
    recorded: dict[str, object] = {
        name: getattr(consultation, name) for name in intake.PREFILLED_FIELDS
    }
    recorded[intake.TREATMENT_FIELD] = [t.therapy for t in page.prior_treatments]
    offer = intake.offer_from(answers, recorded)
    if not offer:
        return None
    return HistoryOffer(
        selfcheck_id=answers.public_id,
        taken_on=local_date(page.patient, answers.taken_at),
        offer=offer,
    )


def patient_consultations(
    *, actor: Actor, patient_public_id: str
) -> tuple[Patient, list[Consultation]]:
    """A patient's consultations for clinical staff; the list read is audited."""
    assert actor.user is not None
    if actor.user.role not in READERS:
        raise Http404("No such patient")
    with transaction.atomic():
        patient = access_patient(actor.user, patient_public_id, for_write=False, clinical=True)
        rows = consultations_of(patient=patient)
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="consultation_list",
            object_id=patient.public_id,
            patient=patient,
            detail={"results": len(rows)},
        )
    return patient, rows


def decisions_to_sign(*, clinic_id: int) -> QuerySet[Consultation]:
    """Draft consultations whose eligibility decision is ready (the rules have run), oldest
    first (lazy): the physician's worklist. Signing the decision signs the consultation."""
    return (
        Consultation.objects.filter(
            clinic_id=clinic_id, status=ConsultationStatus.DRAFT, decision__isnull=False
        )
        .select_related("patient", "decision")
        .order_by("exam_date", "id")
    )
