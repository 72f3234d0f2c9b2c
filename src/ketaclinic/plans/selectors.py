"""Reads of plans for pages: a fixed number of queries whatever the history, every read audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from ketaclinic.accounts.models import User
from ketaclinic.assessments.api import (
    ExamMeasurements,
    eligibility_in_force_for,
    latest_decision,
    latest_exam_measurements,
)
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinical.gates import InForce
from ketaclinic.clinical.medications import (
    LINES,
    MEDICATIONS,
    NON_DRUG_COMPONENTS,
    Line,
    Medication,
    NonDrugComponent,
)
from ketaclinic.clinical.tasks_suggested import SuggestedTask, suggested_tasks
from ketaclinic.clinics.api import clinic_policy_current, protocol_templates_active
from ketaclinic.clinics.models import ClinicPolicy, ProtocolTemplate
from ketaclinic.patients.api import access_patient
from ketaclinic.patients.models import Patient
from ketaclinic.plans.access import PLAN_WRITERS, access_plan
from ketaclinic.plans.models import (
    OTHER_MEDICATION,
    KetamineProtocol,
    Plan,
    PlanComponent,
    PlanStatus,
)

__all__ = [
    "ComponentRow",
    "MedicationGroup",
    "PlanPage",
    "ProtocolFormData",
    "my_plan",
    "patient_plans",
    "plan_page",
    "plans_to_sign",
    "protocol_form_data",
    "protocol_of",
    "signed_plan_of",
    "with_suggested_tasks",
]


@dataclass(frozen=True)
class ComponentRow:
    code: str
    label: str
    details: str
    medication: Medication | None = None
    non_drug: NonDrugComponent | None = None


@dataclass(frozen=True)
class MedicationGroup:
    """The plan's medicines of one NeuPSIG line (``line`` None: medicines outside the lines)."""

    line: Line | None
    rows: list[ComponentRow]


@dataclass(frozen=True)
class PlanPage:
    plan: Plan
    patient: Patient
    protocol: KetamineProtocol | None
    medication_groups: list[MedicationGroup]
    non_drug: list[ComponentRow]
    # The clinic's policy now: a draft's protocol computed under an older one is checked again
    # when it is signed.
    policy: ClinicPolicy
    can_write: bool
    # Whether the patient already has a draft (then a signed plan cannot be revised again).
    draft_exists: bool
    # Tests to suggest before the series (not gates); only the staff plan page reads them.
    suggested: tuple[SuggestedTask, ...] = ()
    # The eligibility decision in force today (gate 1); only the staff plan page reads it.
    in_force: InForce | None = None

    @property
    def has_components(self) -> bool:
        return bool(self.medication_groups or self.non_drug)

    @property
    def policy_changed(self) -> bool:
        return self.protocol is not None and self.protocol.policy_version != self.policy.version


def protocol_of(plan: Plan) -> KetamineProtocol | None:
    """The plan's protocol, or None (no query when it was fetched with select_related)."""
    try:
        return plan.protocol
    except KetamineProtocol.DoesNotExist:
        return None


def _group(components: list[PlanComponent]) -> tuple[list[MedicationGroup], list[ComponentRow]]:
    by_code = {c.code: c for c in components}
    groups = []
    for line in LINES:
        rows = [
            ComponentRow(code=m.code, label=m.name, details=by_code[m.code].details, medication=m)
            for m in MEDICATIONS.values()
            if m.line == line.number and m.code in by_code
        ]
        if rows:
            groups.append(MedicationGroup(line=line, rows=rows))
    if OTHER_MEDICATION in by_code:
        other = by_code[OTHER_MEDICATION]
        groups.append(
            MedicationGroup(
                line=None,
                rows=[ComponentRow(code=other.code, label="Other", details=other.details)],
            )
        )
    non_drug = [
        ComponentRow(code=n.code, label=n.label, details=by_code[n.code].details, non_drug=n)
        for n in NON_DRUG_COMPONENTS.values()
        if n.code in by_code
    ]
    return groups, non_drug


def with_suggested_tasks(
    page: PlanPage, *, previous_series_ends: Sequence[dt.date], today: dt.date
) -> PlanPage:
    """The page with item 11's tasks, from the newest signed decision (one query) and the ends
    of the patient's finished series, which the caller reads (``outcomes.api.finished_series_ends``:
    the series are the outcomes app's, above this one)."""
    decision = latest_decision(patient=page.patient)
    return replace(
        page,
        suggested=suggested_tasks(
            conditions=decision.consultation.conditions if decision is not None else (),
            reason_codes=[str(r.get("code", "")) for r in decision.reasons] if decision else (),
            previous_series_ends=previous_series_ends,
            today=today,
        ),
    )


def _page(plan: Plan, *, user: User) -> PlanPage:
    groups, non_drug = _group(list(plan.components.all()))
    draft_exists = (
        plan.status == PlanStatus.DRAFT
        or Plan.objects.filter(patient_id=plan.patient_id, status=PlanStatus.DRAFT).exists()
    )
    return PlanPage(
        plan=plan,
        patient=plan.patient,
        protocol=protocol_of(plan),
        medication_groups=groups,
        non_drug=non_drug,
        policy=clinic_policy_current(clinic_id=plan.clinic_id),
        can_write=user.role in PLAN_WRITERS,
        draft_exists=draft_exists,
    )


def patient_plans(*, actor: Actor, patient_public_id: str) -> tuple[Patient, list[Plan]]:
    """A patient's plans, newest first, for clinical staff: two queries and the audit row."""
    assert actor.user is not None
    with transaction.atomic():
        patient = access_patient(actor.user, patient_public_id, for_write=False, clinical=True)
        plans = list(
            Plan.objects.filter(patient=patient, clinic_id=patient.clinic_id)
            .select_related("signed_by", "created_by")
            .order_by("-number")
        )
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="plan_list",
            object_id=patient.public_id,
            patient=patient,
            detail={"results": len(plans)},
        )
    return patient, plans


def _audit_plan_read(actor: Actor, plan: Plan, detail: dict[str, object]) -> None:
    audit_record(
        actor=actor,
        action=Action.READ,
        object_type="plan",
        object_id=plan.public_id,
        patient=plan.patient,
        detail=detail,
    )


def plan_page(
    *, actor: Actor, plan_id: str, view: str = "detail", for_write: bool = False
) -> PlanPage:
    """One plan with its components, protocol and the clinic's current policy, audited.

    The detail page also shows the eligibility decision in force (two more queries); its
    suggested tasks are added by ``with_suggested_tasks``.
    """
    assert actor.user is not None
    with transaction.atomic():
        plan = access_plan(actor.user, plan_id, for_write=for_write)
        page = _page(plan, user=actor.user)
        if view == "detail":
            page = replace(
                page,
                in_force=eligibility_in_force_for(patient=plan.patient, today=timezone.localdate()),
            )
        _audit_plan_read(actor, plan, {"view": view})
    return page


def my_plan(*, actor: Actor) -> PlanPage | None:
    """The signed-in patient's current signed plan (drafts never show), audited; None if none."""
    user = actor.user
    if user is None or not user.is_patient or not hasattr(user, "patient"):
        raise Http404("No such plan")
    patient = user.patient
    with transaction.atomic():
        plan = (
            Plan.objects.filter(
                patient=patient, clinic_id=patient.clinic_id, status=PlanStatus.SIGNED
            )
            .select_related(
                "clinic", "patient", "protocol", "signed_by", "created_by", "supersedes"
            )
            .first()
        )
        page = None if plan is None else _page(plan, user=user)
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="plan_summary",
            object_id=plan.public_id if plan is not None else "",
            patient=patient,
            detail={"found": plan is not None},
        )
    return page


@dataclass(frozen=True)
class ProtocolFormData:
    page: PlanPage
    templates: list[ProtocolTemplate]
    # The newest exam that recorded weight and height (the dose is computed on it), or None.
    measurements: ExamMeasurements | None
    today: dt.date

    @property
    def exam_age_days(self) -> int | None:
        return (
            None if self.measurements is None else (self.today - self.measurements.exam_date).days
        )

    @property
    def exam_too_old(self) -> bool:
        """Past the clinic's limit: the protocol may be saved, but signing will refuse it."""
        age = self.exam_age_days
        return age is not None and age > self.page.policy.exam_weight_max_age_days


def protocol_form_data(*, actor: Actor, plan_id: str) -> ProtocolFormData:
    """What the protocol form needs: the draft, the clinic's templates and the latest exam."""
    assert actor.user is not None
    with transaction.atomic():
        plan = access_plan(actor.user, plan_id, for_write=True)
        page = _page(plan, user=actor.user)
        data = ProtocolFormData(
            page=page,
            templates=protocol_templates_active(clinic_id=plan.clinic_id),
            measurements=latest_exam_measurements(patient=plan.patient),
            today=timezone.localdate(),
        )
        _audit_plan_read(
            actor, plan, {"view": "protocol_form", "measurements": data.measurements is not None}
        )
    return data


def plans_to_sign(*, clinic_id: int) -> QuerySet[Plan]:
    """Draft plans waiting for a physician's signature, oldest first (lazy): the physician's
    worklist."""
    return (
        Plan.objects.filter(clinic_id=clinic_id, status=PlanStatus.DRAFT)
        .select_related("patient")
        .order_by("created_at", "id")
    )


def signed_plan_of(*, patient: Patient) -> Plan | None:
    """The patient's plan in force (signed), with its protocol, or None: one query, unaudited
    (the patient's home page writes its own read event)."""
    return (
        Plan.objects.filter(patient=patient, status=PlanStatus.SIGNED)
        .select_related("protocol")
        .first()
    )
