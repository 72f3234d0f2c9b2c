"""Encounter: the patient's visits, from two tables. A consultation (the eligibility exam,
``assessments.Consultation``) and an infusion session (``infusions.InfusionSession``) are each
one ambulatory encounter, told apart by a type from the clinic's own CodeSystem
(``consultation``, ``infusion``). Clinical content: the clinic's nurses, physicians and admins
read them, and the clinic's backend systems; not the patient (no page shows her the notes)
nor the front desk (``FhirReader.chart_patients``).

Statuses (R4 encounter-status), as honest as the record is:

- a consultation is ``in-progress`` while it is a draft (the physician has not closed the
  record of the visit) and ``finished`` once signed; its period is its exam date (a date: the
  record keeps no clock times of the visit), ended on that day once signed;
- an infusion session is ``arrived`` from the check-in until the pre-infusion check,
  ``in-progress`` through the check, the infusion and the recovery, ``finished`` once the
  patient went home: discharged, or deferred (the check found a reason not to infuse today).
  A deferred session is not ``cancelled``: R4 means by that an encounter that ended before it
  began, and this one began (the patient came and was checked). R4 has no element for why a
  visit ended as it did, so the deferral shows as no ketamine given, not here. Its period runs
  from the arrival to the discharge (a deferral records no time: no end).

Participants are Practitioners (a user's public id, as the directory serves them): the
physician who signed the record (``ATND``: responsible for the visit), the one who opened the
consultation (``PART``), the nurse who discharged from the session (``DIS``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from django.db.models import QuerySet

from ketaclinic.accounts.models import User
from ketaclinic.assessments.models import Consultation, ConsultationStatus
from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.resources.base import ResourceType, instant, pruned, reference
from ketaclinic.fhir.search import Filter, Param, dates, subject_params
from ketaclinic.infusions.models import InfusionSession, SessionStatus

TYPE_SYSTEM = "https://ketaclinic.org/fhir/CodeSystem/encounter-type"
STATUS_SYSTEM = "http://hl7.org/fhir/encounter-status"
AMBULATORY = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
    "code": "AMB",
    "display": "ambulatory",
}
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
_ROLES = {
    "ATND": "attender",
    "PART": "Participation",
    "DIS": "discharger",
}

# R4 encounter-status -> the stored statuses it stands for.
CONSULTATION_STATUSES: Mapping[str, tuple[str, ...]] = {
    "in-progress": (ConsultationStatus.DRAFT.value,),
    "finished": (ConsultationStatus.SIGNED.value,),
}
SESSION_STATUSES: Mapping[str, tuple[str, ...]] = {
    "arrived": (SessionStatus.ARRIVED.value,),
    "in-progress": (
        SessionStatus.PRECHECK.value,
        SessionStatus.INFUSING.value,
        SessionStatus.RECOVERING.value,
    ),
    "finished": (SessionStatus.DISCHARGED.value, SessionStatus.DEFERRED.value),
}


# --- token filters a code of which stands for several stored values ---------------------------
# (``search.tokens`` maps one code to one stored value; these are the two shapes it lacks.)


def _codes(given: list[str], system: str) -> set[str]:
    """The codes of a token parameter's values, ``code`` or ``system|code``; a value naming
    another system than ``system`` names none of ours."""
    found: set[str] = set()
    for value in given:
        their_system, _, code = value.rpartition("|")
        if system and their_system and their_system != system:
            continue
        found.add(code)
    return found


def token_groups(field: str, groups: Mapping[str, Collection[Any]], system: str = "") -> Filter:
    """A token whose codes each stand for several stored values of ``field`` (a code it does
    not know matches nothing)."""

    def apply(qs: QuerySet[Any], given: list[str]) -> QuerySet[Any]:
        wanted = [stored for code in _codes(given, system) for stored in groups.get(code, ())]
        return qs.filter(**{f"{field}__in": wanted})

    return apply


def fixed_token(code: str, system: str) -> Filter:
    """A token every row of the table answers the same (its category, its type): all the
    rows, or none."""

    def apply(qs: QuerySet[Any], given: list[str]) -> QuerySet[Any]:
        return qs if code in _codes(given, system) else qs.none()

    return apply


# --- the resource -----------------------------------------------------------------------------


def _type(code: str, display: str, text: str) -> dict[str, Any]:
    return {"coding": [{"system": TYPE_SYSTEM, "code": code, "display": display}], "text": text}


def _participants(*people: tuple[str, User | None]) -> list[dict[str, Any]]:
    """Each person once, under the first role given for them."""
    found: list[dict[str, Any]] = []
    seen: set[int] = set()
    for role, user in people:
        if user is None or user.pk in seen:
            continue
        seen.add(user.pk)
        coding = {"system": PARTICIPATION, "code": role, "display": _ROLES[role]}
        found.append(
            {"type": [{"coding": [coding]}], "individual": reference("Practitioner", user)}
        )
    return found


def _consultation(row: Consultation) -> dict[str, Any]:
    signed = row.status == ConsultationStatus.SIGNED
    appointment = row.appointment
    day = row.exam_date.isoformat()
    return {
        "resourceType": "Encounter",
        "id": str(row.public_id),
        "meta": {"lastUpdated": instant(row.updated_at)},
        "status": "finished" if signed else "in-progress",
        "class": AMBULATORY,
        "type": [
            _type(
                "consultation",
                "Consultation",
                appointment.type.name if appointment is not None else "Consultation",
            )
        ],
        "subject": reference("Patient", row.patient),
        "participant": _participants(
            ("ATND", row.signed_by if signed else None), ("PART", row.created_by)
        ),
        "appointment": [reference("Appointment", appointment)],
        "period": {"start": day, "end": day if signed else None},
        "location": [
            {"location": reference("Location", appointment.location if appointment else None)}
        ],
        "serviceProvider": reference("Organization", row.clinic),
    }


def _session(row: InfusionSession) -> dict[str, Any]:
    status = SessionStatus(row.status)
    fhir_status = next(code for code, stored in SESSION_STATUSES.items() if status in stored)
    return {
        "resourceType": "Encounter",
        "id": str(row.public_id),
        "meta": {"lastUpdated": instant(row.updated_at)},
        "status": fhir_status,
        "class": AMBULATORY,
        "type": [_type("infusion", "Infusion", "Infusion")],
        "subject": reference("Patient", row.patient),
        "participant": _participants(("ATND", row.signed_by), ("DIS", row.discharged_by)),
        "appointment": [reference("Appointment", row.appointment)],
        "period": {
            "start": instant(row.arrived_at),
            "end": instant(row.discharged_at) if row.discharged_at else None,
        },
        "location": [{"location": reference("Location", row.location)}],
        "serviceProvider": reference("Organization", row.clinic),
    }


def encounter(row: Consultation | InfusionSession) -> dict[str, Any]:
    """Either table's row: both tables share it, so a row another type's ``_include`` brings
    (through the registry, which knows the type's first table) reads right whichever it is."""
    if isinstance(row, InfusionSession):
        return pruned(_session(row))
    return pruned(_consultation(row))


def _consultations(reader: FhirReader) -> QuerySet[Consultation]:
    return Consultation.objects.filter(
        clinic_id=reader.clinic_id, patient__in=reader.chart_patients()
    ).select_related(
        "clinic",
        "patient__clinic",
        "created_by",
        "signed_by",
        "appointment__type",
        "appointment__location",
    )


def _sessions(reader: FhirReader) -> QuerySet[InfusionSession]:
    return InfusionSession.objects.filter(
        clinic_id=reader.clinic_id, patient__in=reader.chart_patients()
    ).select_related(
        "clinic", "patient__clinic", "location", "appointment", "signed_by", "discharged_by"
    )


def _params(
    *, type_code: str, statuses: Mapping[str, tuple[str, ...]], date: Filter
) -> dict[str, Param]:
    return {
        **subject_params(),
        "date": Param(
            "date",
            date,
            "When it began: a consultation's exam date, an infusion session's arrival.",
        ),
        "status": Param(
            "token",
            token_groups("status", statuses, STATUS_SYSTEM),
            "arrived, in-progress or finished (a draft consultation is in-progress).",
        ),
        "type": Param(
            "token",
            fixed_token(type_code, TYPE_SYSTEM),
            f"consultation or infusion (the system {TYPE_SYSTEM}).",
        ),
    }


_INCLUDES = {"Encounter:patient": ("Patient", lambda row: row.patient)}

SESSION_ENCOUNTER = ResourceType(
    name="Encounter",
    rows=_sessions,
    to_fhir=encounter,
    params=_params(
        type_code="infusion",
        statuses=SESSION_STATUSES,
        date=dates("arrived_at", param="date"),
    ),
    updated_field="updated_at",
    patient_of=lambda row: row.patient,
    includes=_INCLUDES,
    doc="Infusion sessions.",
)

ENCOUNTER = ResourceType(
    name="Encounter",
    rows=_consultations,
    to_fhir=encounter,
    params=_params(
        type_code="consultation",
        statuses=CONSULTATION_STATUSES,
        date=dates("exam_date", param="date", day_field=True),
    ),
    updated_field="updated_at",
    patient_of=lambda row: row.patient,
    includes=_INCLUDES,
    doc="Visits: consultations (the eligibility exam) and infusion sessions.",
    more=(SESSION_ENCOUNTER,),
)
