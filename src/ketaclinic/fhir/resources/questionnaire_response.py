"""QuestionnaireResponse: the answers a patient gave to one of the clinic's instruments, with the
score they gave, from three tables:

- the pain diary (``outcomes.DiaryEntry``): the daily NRS, the weekly PEG (its three items) and
  the PGIC, each entry's answers as stored; the id is the entry's public id (its Observation
  has the same id: two types, one entry);
- the examination's DN4 (``assessments.Consultation``: the ten items asked and examined at the
  visit, stored on the consultation); the id is the consultation's public id, as its Encounter's.

Each names its Questionnaire by the canonical url of the instrument (``questionnaire_url``: the
Questionnaire type serves them from the same registry) and answers each item (the registry's
item key as the linkId) with the coding the Questionnaire's answer option gives
(``answer_coding``: "yes"/"no" or the number, its label and its points).

The score is an extension, not an item: the Questionnaire has no item for it (a total is not a
question), and a response's items answer its questionnaire's items. The extension
(``SCORE_EXTENSION``) holds the total, the band the registry reads it in and, for an instrument
with a cut-off, whether the result is positive.

``authored`` is the day the answers belong to, as the record keeps it: the diary stores the
patient's own calendar day (she may record yesterday's pain today), the exam its date; the
moment the answers were last saved is ``meta.lastUpdated``. The diary's author is the patient
(every entry is hers, through the portal or an emailed link; a staff member, were one to record
it, is named instead); the exam's is the physician who signed it, or who opened it while it is a
draft (then the response is ``in-progress``: the answers may still change).

- the public self-check once it is attached to her record (``screening.SelfCheckResult``): one
  response per instrument it scored (the DN4 interview, ID Pain, S-LANSS), each result row's
  public id the response's; the answers are the self-check's, one per symptom feeding every
  instrument that asks it, as it was scored. ``authored`` is the moment she answered, and
  ``meta.lastUpdated`` the moment it joined her record.

Clinical content: the clinic's nurses, physicians and admins read them, and its registered
systems; the patient reads her own diary's and self-checks', not the exam's (she does not read
her consultations on the pages either); the front desk reads none, as on the pages.
``fhir.writes`` creates diary entries from a patient app's responses, through the diary's own
service.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Q, QuerySet

from ketaclinic.accounts.models import User
from ketaclinic.assessments.models import Consultation, ConsultationStatus
from ketaclinic.clinical.instruments import get_instrument
from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.resources.base import ResourceType, instant, pruned, reference
from ketaclinic.fhir.resources.questionnaire import (
    QUESTIONNAIRE_BASE,
    SERVED,
    answer_coding,
    questionnaire_url,
)
from ketaclinic.fhir.search import Filter, Param, dates, subject_params
from ketaclinic.outcomes.models import DiaryEntry
from ketaclinic.patients.models import Patient
from ketaclinic.screening.api import selfcheck_instrument_answers
from ketaclinic.screening.models import SelfCheckResult

SCORE_EXTENSION = "https://ketaclinic.org/fhir/StructureDefinition/instrument-score"
# The exam's instrument: the full DN4, interview and examination items.
EXAM_INSTRUMENT = "dn4"


def score_extension(code: str, total: float, positive: bool | None = None) -> dict[str, Any]:
    """The total, its band (the registry's reading of it) and, with a cut-off, positive or not."""
    instrument = get_instrument(code)
    parts: list[dict[str, Any]] = [
        {"url": "total", "valueDecimal": total},
        {"url": "band", "valueString": instrument.band_for(total)},
    ]
    if instrument.cutoff is not None:
        is_positive = total >= instrument.cutoff if positive is None else positive
        parts.append({"url": "positive", "valueBoolean": is_positive})
    return {"url": SCORE_EXTENSION, "extension": parts}


def answered_items(code: str, answers: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each item of the instrument the answers hold, in the registry's order."""
    instrument = SERVED[code]
    return [
        {
            "linkId": item.key,
            "text": item.wording,
            "answer": [{"valueCoding": answer_coding(code, item.key, answers[item.key])}],
        }
        for item in instrument.items
        if item.key in answers
    ]


def _author(recorded_by: User | None, patient: Patient) -> dict[str, str] | None:
    if recorded_by is not None and recorded_by.is_clinic_staff:
        return reference("Practitioner", recorded_by)
    return reference("Patient", patient)


# --- the pain diary ---------------------------------------------------------------------------


def _entries(reader: FhirReader) -> QuerySet[DiaryEntry]:
    # The patient's clinic too: ``_include`` shows her Patient, whose identifier names it.
    return DiaryEntry.objects.filter(
        clinic_id=reader.clinic_id, patient__in=reader.clinical_patients()
    ).select_related("patient__clinic", "recorded_by")


def _entries_exported(reader: FhirReader) -> QuerySet[DiaryEntry]:
    # What ``diary_response`` reads, and no more (a bulk export renders no ``_include``).
    return (
        _entries(reader)
        .select_related(None)
        .select_related("patient", "recorded_by")
        .only(
            "public_id", "updated_at", "instrument", "score", "entry_date", "answers", "version",
            "patient__public_id", "recorded_by__public_id", "recorded_by__role",
            "recorded_by__clinic_id",
        )
    )  # fmt: skip


def diary_response(entry: DiaryEntry) -> dict[str, Any]:
    patient = reference("Patient", entry.patient)
    return pruned(
        {
            "resourceType": "QuestionnaireResponse",
            "id": str(entry.public_id),
            "meta": {"lastUpdated": instant(entry.updated_at)},
            "extension": [score_extension(entry.instrument, entry.score)],
            "questionnaire": questionnaire_url(entry.instrument),
            # Answers she replaced later (the same day's entry, recorded again) are amended.
            "status": "amended" if entry.version > 1 else "completed",
            "subject": patient,
            "authored": entry.entry_date.isoformat(),
            "author": _author(entry.recorded_by, entry.patient),
            "source": patient,
            "item": answered_items(entry.instrument, entry.answers),
        }
    )


# --- the examination's DN4 --------------------------------------------------------------------


def _exams(reader: FhirReader) -> QuerySet[Consultation]:
    return Consultation.objects.filter(
        clinic_id=reader.clinic_id,
        # The consultation is a clinical note: its readers, not the patient (``chart_patients``).
        patient__in=reader.chart_patients(),
        dn4_total__isnull=False,
    ).select_related("patient__clinic", "created_by", "signed_by")


def exam_response(row: Consultation) -> dict[str, Any]:
    signed = row.status == ConsultationStatus.SIGNED
    physician = row.signed_by if signed and row.signed_by is not None else row.created_by
    assert row.dn4_total is not None  # ``_exams`` keeps scored exams only
    return pruned(
        {
            "resourceType": "QuestionnaireResponse",
            "id": str(row.public_id),
            "meta": {"lastUpdated": instant(row.updated_at)},
            "extension": [score_extension(EXAM_INSTRUMENT, row.dn4_total, row.dn4_positive)],
            "questionnaire": questionnaire_url(EXAM_INSTRUMENT),
            "status": "completed" if signed else "in-progress",
            "subject": reference("Patient", row.patient),
            "encounter": reference("Encounter", row),
            "authored": row.exam_date.isoformat(),
            "author": reference("Practitioner", physician),
            "item": answered_items(EXAM_INSTRUMENT, row.dn4_answers),
        }
    )


# --- the self-check ---------------------------------------------------------------------------


def _selfcheck_results(reader: FhirReader) -> QuerySet[SelfCheckResult]:
    # Attached self-checks only: an anonymous one is in no patient's record.
    return SelfCheckResult.objects.filter(
        selfcheck__patient__in=reader.clinical_patients()
    ).select_related("selfcheck__patient__clinic")


def selfcheck_response(row: SelfCheckResult) -> dict[str, Any]:
    check = row.selfcheck
    # ``_selfcheck_results`` keeps attached ones only.
    assert check.patient is not None
    assert check.attached_at is not None
    patient = reference("Patient", check.patient)
    result = check.scores[row.instrument]
    return pruned(
        {
            "resourceType": "QuestionnaireResponse",
            "id": str(row.public_id),
            "meta": {"lastUpdated": instant(check.attached_at)},
            "extension": [score_extension(row.instrument, result["total"], result["positive"])],
            "questionnaire": questionnaire_url(row.instrument),
            "status": "completed",
            "subject": patient,
            "authored": instant(check.created_at),
            "author": patient,
            "source": patient,
            "item": answered_items(
                row.instrument, selfcheck_instrument_answers(check)[row.instrument]
            ),
        }
    )


# --- search parameters ------------------------------------------------------------------------


def instrument_of(value: str) -> str | None:
    """The instrument a ``questionnaire`` value names: its canonical url (a ``|version`` after
    it is ignored), ``Questionnaire/<id>`` or the id alone; None for one not served."""
    named = value.split("|", 1)[0]
    if named.startswith(QUESTIONNAIRE_BASE):
        code = named[len(QUESTIONNAIRE_BASE) :]
    else:
        code = named.removeprefix("Questionnaire/")
    return code if code in SERVED else None


def _questionnaire(field_name: str | None) -> Filter:
    """``questionnaire``: on the diary the instrument column; on the exam (``None``) all or
    nothing, as the exam answers the DN4 only."""

    def apply(qs: QuerySet[Any], given: list[str]) -> QuerySet[Any]:
        wanted = {instrument_of(value) for value in given} - {None}
        if field_name is None:
            return qs if EXAM_INSTRUMENT in wanted else qs.none()
        return qs.filter(**{f"{field_name}__in": sorted(w for w in wanted if w)})

    return apply


def _statuses(matching: Mapping[str, Q]) -> Filter:
    """``status``: the rows of any status given (``system|code`` or the code)."""

    def apply(qs: QuerySet[Any], given: list[str]) -> QuerySet[Any]:
        wanted = [
            matching[code] for code in {v.rsplit("|", 1)[-1] for v in given} if code in matching
        ]
        if not wanted:
            return qs.none()
        found = wanted[0]
        for each in wanted[1:]:
            found |= each
        return qs.filter(found)

    return apply


_QUESTIONNAIRE_DOC = (
    "The instrument's Questionnaire: its canonical url (https://ketaclinic.org/fhir/"
    "Questionnaire/nrs), Questionnaire/[id] or the id: nrs, peg, pgic (the diary), dn4 (the"
    " exam), dn4-interview, id-pain, s-lanss (the self-check)."
)
_STATUS_DOC = (
    "completed (a diary entry, a self-check, a signed exam) or in-progress (a draft exam's DN4)."
)
_AUTHORED_DOC = (
    "The day the answers belong to (the diary's day, the exam's date), or when the self-check"
    " was answered."
)

EXAM_RESPONSE = ResourceType(
    name="QuestionnaireResponse",
    rows=_exams,
    to_fhir=exam_response,
    params={
        **subject_params(),
        "questionnaire": Param("reference", _questionnaire(None), _QUESTIONNAIRE_DOC),
        "status": Param(
            "token",
            _statuses(
                {
                    "completed": Q(status=ConsultationStatus.SIGNED),
                    "in-progress": Q(status=ConsultationStatus.DRAFT),
                }
            ),
            _STATUS_DOC,
        ),
        "authored": Param(
            "date", dates("exam_date", param="authored", day_field=True), _AUTHORED_DOC
        ),
    },
    updated_field="updated_at",
    patient_of=lambda row: row.patient,
    includes={"QuestionnaireResponse:patient": ("Patient", lambda row: row.patient)},
)

SELFCHECK_RESPONSE = ResourceType(
    name="QuestionnaireResponse",
    rows=_selfcheck_results,
    to_fhir=selfcheck_response,
    params={
        **subject_params("selfcheck__patient__public_id"),
        "questionnaire": Param("reference", _questionnaire("instrument"), _QUESTIONNAIRE_DOC),
        "status": Param("token", _statuses({"completed": Q(pk__isnull=False)}), _STATUS_DOC),
        "authored": Param("date", dates("selfcheck__created_at", param="authored"), _AUTHORED_DOC),
    },
    updated_field="selfcheck__attached_at",
    patient_of=lambda row: row.selfcheck.patient,
    includes={"QuestionnaireResponse:patient": ("Patient", lambda row: row.selfcheck.patient)},
)

QUESTIONNAIRE_RESPONSE = ResourceType(
    name="QuestionnaireResponse",
    rows=_entries,
    export_rows=_entries_exported,
    to_fhir=diary_response,
    params={
        **subject_params(),
        "questionnaire": Param("reference", _questionnaire("instrument"), _QUESTIONNAIRE_DOC),
        "status": Param("token", _statuses({"completed": Q(pk__isnull=False)}), _STATUS_DOC),
        "authored": Param(
            "date", dates("entry_date", param="authored", day_field=True), _AUTHORED_DOC
        ),
    },
    updated_field="updated_at",
    patient_of=lambda row: row.patient,
    includes={"QuestionnaireResponse:patient": ("Patient", lambda row: row.patient)},
    more=(EXAM_RESPONSE, SELFCHECK_RESPONSE),
    doc=(
        "The answers to the clinic's instruments, with the score (an extension): the pain"
        " diary's NRS, PEG and PGIC, the examination's DN4, and the self-check's DN4"
        " interview, ID Pain and S-LANSS. A patient app creates diary entries (NRS, PEG) by"
        " posting one."
    ),
)
