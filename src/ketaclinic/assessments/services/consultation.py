"""Writes to the consultation record: open it, save its sections, add addenda once signed.

A section save (history, exam, grade) takes the draft under its row lock at the version the form
was opened with, writes, and re-evaluates the eligibility decision (``evaluation``) as soon as the
facts it needs are recorded, so the page always shows the decision the current record gives.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ketaclinic.assessments import intake
from ketaclinic.assessments.models import (
    Addendum,
    Cause,
    Consultation,
    ConsultationStatus,
    HistoryPrefill,
    Observation,
    PriorTreatment,
)
from ketaclinic.assessments.services._common import (
    locked_consultation,
    locked_draft,
    save_consultation,
    writer,
)
from ketaclinic.assessments.services.evaluation import decision_follow, therapies_of
from ketaclinic.assessments.vocab import EXAM_OBSERVATIONS
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinical import codes
from ketaclinic.clinical.eligibility import THERAPIES, THERAPY_OUTCOMES
from ketaclinic.clinical.grading import neuropathic_grade
from ketaclinic.clinical.instruments import InvalidAnswers, score
from ketaclinic.patients.api import access_patient
from ketaclinic.patients.models import Patient
from ketaclinic.screening.api import selfcheck_answers_for_intake


@dataclass(frozen=True)
class HistoryInput:
    pain_duration_months: float | None
    pain_nrs: int | None = None
    pain_regions: Sequence[str] = ()
    pain_descriptors: Sequence[str] = ()
    # Each "system|code" (``clinical.codes.Code.key``), SNOMED CT or ICD-10-CM.
    causes: Sequence[str] = ()
    # Therapy code (clinical.eligibility.THERAPIES) -> outcome (THERAPY_OUTCOMES).
    prior_treatments: Mapping[str, str] = field(default_factory=dict)
    conditions: Sequence[str] = ()
    history_notes: str = ""
    # The self-check whose answers the form offered (``selectors.history_offer``), if any:
    # saving the form confirms the offered values that are still there.
    selfcheck_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ExamInput:
    systolic_bp: int | None
    diastolic_bp: int | None
    heart_rate: int | None
    spo2: int | None
    weight_kg: float | None
    height_cm: float | None
    respiratory_rate: int | None = None
    temperature_c: float | None = None
    sensory_signs: Sequence[str] = ()
    exam_notes: str = ""
    # The ten DN4 items (instruments REGISTRY "dn4"), or None when the DN4 was not done.
    dn4: Mapping[str, bool] | None = None


@dataclass(frozen=True)
class GradeInput:
    history: bool
    plausible_distribution: bool
    sensory_signs: bool
    confirmatory_test: bool
    confirmatory_test_note: str = ""


def _local_today(patient: Patient) -> dt.date:
    # The clinic's day, not the server's: a late-evening visit must not date itself tomorrow.
    if patient.home_location is not None:
        return timezone.now().astimezone(zoneinfo.ZoneInfo(patient.home_location.time_zone)).date()
    return timezone.localdate()


def _assign(consultation: Consultation, values: Mapping[str, object]) -> list[str]:
    """Set ``values`` on the consultation; returns the names of those that changed."""
    changed = [name for name, value in values.items() if getattr(consultation, name) != value]
    for name, value in values.items():
        setattr(consultation, name, value)
    return changed


def _save_audited(
    actor: Actor,
    consultation: Consultation,
    section: str,
    fields: list[str],
    extra: Mapping[str, object] | None = None,
) -> None:
    """The section's one audit event, after the draft decision has followed the record: what
    the refresh did to the decision goes into this event, not an event of its own."""
    _, change = decision_follow(consultation)
    detail: dict[str, Any] = {"section": section, "fields": sorted(fields)}
    if change is not None:
        detail["decision"] = change.as_detail()
    detail.update(extra or {})
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="consultation",
        object_id=consultation.public_id,
        patient=consultation.patient,
        # Names of the fields only: the audit trail must not become a second copy of the notes.
        detail=detail,
    )


def _audit_update(
    actor: Actor, consultation: Consultation, section: str, fields: list[str]
) -> None:
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="consultation",
        object_id=consultation.public_id,
        patient=consultation.patient,
        # Names of the fields only: the audit trail must not become a second copy of the notes.
        detail={"section": section, "fields": sorted(fields)},
    )


@transaction.atomic
def consultation_start(
    *,
    actor: Actor,
    patient_public_id: str,
    exam_date: dt.date | None = None,
    appointment_public_id: str | None = None,
) -> Consultation:
    """Open a draft consultation for a patient of the physician's clinic."""
    user = writer(actor)
    patient = access_patient(user, patient_public_id, for_write=False, clinical=True)
    appointment = None
    if appointment_public_id:
        # Through the patient's own appointments: only one of theirs can be chosen.
        appointment = patient.appointments.filter(public_id=appointment_public_id).first()
        if appointment is None:
            raise ValidationError({"appointment": "Choose one of this patient's appointments."})
    today = _local_today(patient)
    exam_date = exam_date or today
    if exam_date > today:
        raise ValidationError({"exam_date": "Exam date cannot be in the future."})
    consultation = Consultation(
        clinic_id=patient.clinic_id,
        patient=patient,
        appointment=appointment,
        exam_date=exam_date,
        created_by=user,
    )
    consultation.full_clean()
    consultation.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="consultation",
        object_id=consultation.public_id,
        patient=patient,
        detail={"appointment": bool(appointment)},
    )
    return consultation


def _cause_rows(keys: Sequence[str]) -> list[codes.Code]:
    found: list[codes.Code] = []
    for key in keys:
        try:
            code = codes.from_key(key, field="causes")
        except codes.UnknownCodeError as exc:
            raise ValidationError({"causes": str(exc)}) from exc
        if code.system not in codes.CAUSE_SYSTEMS:
            raise ValidationError(
                {
                    "causes": f"causes: {code.code} is a {code.system_name} code; "
                    "causes are coded in SNOMED CT or ICD-10-CM."
                }
            )
        if code not in found:
            found.append(code)
    return found


def _treatment_rows(treatments: Mapping[str, str]) -> dict[str, str]:
    for therapy, outcome in treatments.items():
        if therapy not in THERAPIES:
            raise ValidationError(
                {"prior_treatments": f"prior_treatments: unknown therapy code {therapy!r}."}
            )
        if outcome not in THERAPY_OUTCOMES:
            raise ValidationError(
                {
                    "prior_treatments": f"prior_treatments: {THERAPIES[therapy].label}: unknown "
                    f"outcome {outcome!r}; choose one of {', '.join(THERAPY_OUTCOMES)}."
                }
            )
    return dict(treatments)


@transaction.atomic
def consultation_history_save(
    *, actor: Actor, public_id: str, expected_version: int, history: HistoryInput
) -> Consultation:
    consultation = locked_draft(actor, public_id, expected_version)
    causes = _cause_rows(history.causes)
    treatments = _treatment_rows(history.prior_treatments)
    before = {name: getattr(consultation, name) for name in intake.PREFILLED_FIELDS}
    before[intake.TREATMENT_FIELD] = list(therapies_of(consultation))
    changed = _assign(
        consultation,
        {
            "pain_duration_months": history.pain_duration_months,
            "pain_nrs": history.pain_nrs,
            "pain_regions": list(history.pain_regions),
            "pain_descriptors": list(history.pain_descriptors),
            "conditions": list(history.conditions),
            "history_notes": history.history_notes.strip(),
        },
    )
    old_causes = set(consultation.causes.values_list("system", "code"))
    new_causes = {(c.system, c.code) for c in causes}
    if old_causes != new_causes:
        changed.append("causes")
    if therapies_of(consultation) != treatments:
        changed.append("prior_treatments")
    save_consultation(consultation)
    if "causes" in changed:
        # A cause kept keeps its row, and so its id (the FHIR API's Condition).
        kept = {(c.system, c.code) for c in causes}
        rows = {(row.system, row.code): row for row in consultation.causes.all()}
        Cause.objects.filter(
            pk__in=[row.pk for key, row in rows.items() if key not in kept]
        ).delete()
        Cause.objects.bulk_create(
            Cause(consultation=consultation, system=c.system, code=c.code, display=c.display)
            for c in causes
            if (c.system, c.code) not in rows
        )
    if "prior_treatments" in changed:
        consultation.prior_treatments.all().delete()
        PriorTreatment.objects.bulk_create(
            PriorTreatment(consultation=consultation, therapy=therapy, outcome=outcome)
            for therapy, outcome in treatments.items()
        )
    saved: dict[str, object] = {
        name: getattr(consultation, name) for name in intake.PREFILLED_FIELDS
    }
    saved[intake.TREATMENT_FIELD] = list(treatments)
    from_selfcheck = _prefill_confirm(
        actor, consultation, history.selfcheck_id, before=before, saved=saved
    )
    extra = {} if from_selfcheck is None else {"from_selfcheck": from_selfcheck}
    _save_audited(actor, consultation, "history", changed, extra)
    return consultation


def _prefill_confirm(
    actor: Actor,
    consultation: Consultation,
    selfcheck_id: uuid.UUID | None,
    *,
    before: Mapping[str, object],
    saved: Mapping[str, object],
) -> list[str] | None:
    """Record which saved history values came from the self-check (``HistoryPrefill``); the
    names of those fields, or None when no self-check is involved.

    The first save of a form that offered a self-check confirms every offered value it kept, for
    fields that were empty before it. Later saves keep a field only while its value still keeps
    the self-check's. The offer is recomputed here from the patient's own self-check, never
    taken from the form.
    """
    existing = HistoryPrefill.objects.filter(consultation=consultation).first()
    if existing is not None:
        still = [
            name for name in existing.fields if intake.kept(existing.offered.get(name), saved[name])
        ]
        if still != existing.fields:
            existing.fields = still
            existing.save(update_fields=["fields"])
        return still
    if selfcheck_id is None:
        return None
    answers = selfcheck_answers_for_intake(patient=consultation.patient, public_id=selfcheck_id)
    if answers is None:  # not this patient's self-check: nothing offered, nothing recorded
        return None
    offered = intake.offer_from(answers, before).as_record()
    fields = [name for name, value in offered.items() if intake.kept(value, saved[name])]
    prefill = HistoryPrefill(
        consultation=consultation,
        selfcheck_id=answers.row_id,
        offered=offered,
        fields=fields,
        confirmed_by=actor.user,
        confirmed_at=timezone.now(),
    )
    prefill.full_clean()
    prefill.save()
    return fields


def _dn4_score(
    answers: Mapping[str, bool] | None,
) -> tuple[dict[str, bool], int | None, bool | None]:
    if answers is None:
        return {}, None, None
    try:
        result = score("dn4", answers)
    except InvalidAnswers as exc:
        raise ValidationError(
            {
                f"dn4_{key}": f"DN4 {key.replace('_', ' ')}: {problem}"
                for key, problem in exc.errors.items()
            }
        ) from exc
    return dict(answers), int(result.total), bool(result.positive)


def _observations(consultation: Consultation) -> list[Observation]:
    rows = []
    for name, coded in EXAM_OBSERVATIONS.items():
        value = consultation.bmi if name == "bmi" else getattr(consultation, name)
        if value is None:
            continue
        for code in coded:
            assert code.unit is not None
            rows.append(
                Observation(
                    consultation=consultation,
                    patient=consultation.patient,
                    loinc=code.code,
                    display=code.display,
                    value=float(value),
                    unit=code.unit,
                    effective_date=consultation.exam_date,
                )
            )
    return rows


_OBSERVATION_VALUES = ("display", "value", "unit", "effective_date")


def _observations_sync(consultation: Consultation) -> None:
    """Make the exam's coded rows match its columns. A measurement still taken keeps its row,
    and so its id (the FHIR API's Observation), with the value brought up to date; one no
    longer taken goes; a new one is added."""
    wanted = {row.loinc: row for row in _observations(consultation)}
    rows = {row.loinc: row for row in consultation.observations.all()}
    Observation.objects.filter(
        pk__in=[row.pk for loinc, row in rows.items() if loinc not in wanted]
    ).delete()
    changed = []
    for loinc, row in rows.items():
        new = wanted.get(loinc)
        if new is None:
            continue
        if any(getattr(row, name) != getattr(new, name) for name in _OBSERVATION_VALUES):
            for name in _OBSERVATION_VALUES:
                setattr(row, name, getattr(new, name))
            changed.append(row)
    Observation.objects.bulk_update(changed, _OBSERVATION_VALUES)
    Observation.objects.bulk_create(row for loinc, row in wanted.items() if loinc not in rows)


@transaction.atomic
def consultation_exam_save(
    *, actor: Actor, public_id: str, expected_version: int, exam: ExamInput
) -> Consultation:
    consultation = locked_draft(actor, public_id, expected_version)
    dn4_answers, dn4_total, dn4_positive = _dn4_score(exam.dn4)
    changed = _assign(
        consultation,
        {
            "systolic_bp": exam.systolic_bp,
            "diastolic_bp": exam.diastolic_bp,
            "heart_rate": exam.heart_rate,
            "respiratory_rate": exam.respiratory_rate,
            "spo2": exam.spo2,
            "temperature_c": exam.temperature_c,
            "weight_kg": exam.weight_kg,
            "height_cm": exam.height_cm,
            "sensory_signs": list(exam.sensory_signs),
            "exam_notes": exam.exam_notes.strip(),
            "dn4_answers": dn4_answers,
            "dn4_total": dn4_total,
            "dn4_positive": dn4_positive,
        },
    )
    save_consultation(consultation)
    _observations_sync(consultation)
    _save_audited(actor, consultation, "exam", changed)
    return consultation


@transaction.atomic
def consultation_grade_save(
    *, actor: Actor, public_id: str, expected_version: int, grade: GradeInput
) -> Consultation:
    consultation = locked_draft(actor, public_id, expected_version)
    try:
        result = neuropathic_grade(
            history=grade.history,
            plausible_distribution=grade.plausible_distribution,
            sensory_signs=grade.sensory_signs,
            confirmatory_test=grade.confirmatory_test,
        )
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    changed = _assign(
        consultation,
        {
            "grade_history": grade.history,
            "grade_plausible_distribution": grade.plausible_distribution,
            "grade_sensory_signs": grade.sensory_signs,
            "grade_confirmatory_test": grade.confirmatory_test,
            "confirmatory_test_note": grade.confirmatory_test_note.strip(),
            "neuropathic_grade": result,
        },
    )
    save_consultation(consultation)
    _audit_update(actor, consultation, "grade", changed)
    return consultation


@transaction.atomic
def addendum_add(*, actor: Actor, public_id: str, text: str) -> Addendum:
    """Add a correction to a signed consultation; the signed record itself never changes."""
    user = writer(actor)
    consultation = locked_consultation(user, public_id)
    if consultation.status != ConsultationStatus.SIGNED:
        raise ValidationError(
            {"text": "Addendum: this consultation is still a draft; edit it directly."}
        )
    text = text.strip()
    if not text:
        raise ValidationError({"text": "Addendum: write the correction or note to add."})
    addendum = Addendum(consultation=consultation, text=text, author=user)
    addendum.full_clean()
    addendum.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        object_type="consultation_addendum",
        object_id=consultation.public_id,
        patient=consultation.patient,
        detail={"addendum": addendum.pk},
    )
    return addendum
