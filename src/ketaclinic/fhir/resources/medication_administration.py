"""MedicationAdministration: the ketamine (RxNorm 6130) an infusion session gave, one per session
that started, with the session's id (its Encounter has the same one).

Status: in-progress while the pump runs, on-hold while it is paused; once the pump was stopped,
completed if the plan's total dose was given (the chart's own rule,
``clinical.monitoring.planned_dose_given``) and stopped (R4: halted before all of it occurred) if
the infusion ended short of it. A deferred session gave nothing and has no start time to state (R4
requires one), so it is not an administration here; its Encounter says it was deferred. The dose is
the amount the charted rates gave (``infusions.api.given_mg_at``, as the chart computes it), stated
once the infusion has ended: while it runs the amount changes by the second. The rate is the pump's
while it runs; after the end, the one rate it ran at, or none when the rate was changed (the
dosage's text lists them). The route is in words: the project's code tables hold no route code.

Clinical notes: the clinic's nurses, physicians and admins read them, and its backend systems;
not the patient nor the front desk, as on the pages (``FhirReader.chart_patients``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import F, Prefetch, Q, QuerySet
from django.db.models.functions import Round

from ketaclinic.clinical import codes
from ketaclinic.clinical.administration import DOSE_REACHED_TOLERANCE_MG
from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.resources.base import ResourceType, instant, pruned, reference
from ketaclinic.fhir.resources.observation import UCUM
from ketaclinic.fhir.search import Param, dates, ids, subject_params
from ketaclinic.infusions.api import given_mg_at
from ketaclinic.infusions.models import InfusionSession, RateEvent, RateEventKind

KETAMINE = "6130"
# The pump's settings that run the drug: a start, a change, a resume (a pause and the stop are 0).
RUNNING = (RateEventKind.START, RateEventKind.CHANGE, RateEventKind.RESUME)


# How far short of the plan's total the pump stopped, in billionths of a milligram, rounded:
# the difference of two floats (32.2 - 32.19 is 0.010000000000005116) read at a scale where the
# decimals a chart holds are exact, so that the query draws ``planned_dose_given``'s line (it
# compares the decimals as written) where that function does. Once the pump is stopped its rate
# is 0 and ``given_before_mg`` holds everything given. None without a plan's total.
_SCALE = 10**9
_SHORT_BY = Round((F("plan_total_mg") - F("given_before_mg")) * float(_SCALE))
_TOLERANCE = float(DOSE_REACHED_TOLERANCE_MG * _SCALE)


def _sessions(reader: FhirReader) -> QuerySet[InfusionSession]:
    return (
        InfusionSession.objects.filter(
            clinic_id=reader.clinic_id,
            patient__in=reader.chart_patients(),
            started_at__isnull=False,
        )
        .annotate(short_by=_SHORT_BY)
        .select_related("patient__clinic", "plan")
        .prefetch_related(
            Prefetch(
                "rate_events",
                queryset=RateEvent.objects.select_related("recorded_by").order_by("at", "id"),
            )
        )
    )


def status(session: InfusionSession) -> str:
    """The read and the ``status`` search decide alike: both from the row's ``short_by``."""
    if session.ended_at is not None:
        short_by = session.short_by  # type: ignore[attr-defined]  # ``_sessions``' annotation
        return "stopped" if short_by is not None and short_by > _TOLERANCE else "completed"
    return "in-progress" if session.current_rate_mg_per_h else "on-hold"


# The rows of each status, as ``status`` reads them.
_STATUS_ROWS = {
    "completed": Q(ended_at__isnull=False)
    & (Q(short_by__isnull=True) | Q(short_by__lte=_TOLERANCE)),
    "stopped": Q(ended_at__isnull=False, short_by__gt=_TOLERANCE),
    "in-progress": Q(ended_at__isnull=True, current_rate_mg_per_h__gt=0),
    "on-hold": Q(ended_at__isnull=True)
    & (Q(current_rate_mg_per_h__isnull=True) | Q(current_rate_mg_per_h=0)),
}


def _medication() -> dict[str, Any]:
    drug = codes.lookup(codes.RXNORM.key, KETAMINE, field="medication")
    return {
        "coding": [{"system": codes.RXNORM.uri, "code": drug.code, "display": drug.display}],
        "text": drug.display,
    }


def _mg(value: float) -> float:
    # Hundredths of a milligram: far below a pump's resolution, and free of float noise.
    return round(value, 2)


def _per_hour(value: float) -> dict[str, Any]:
    return {"value": _mg(value), "unit": "mg/h", "system": UCUM, "code": "mg/h"}


def _dosage(session: InfusionSession, events: list[RateEvent]) -> dict[str, Any]:
    ran: list[float] = []  # the rates in order, a repeat only where the rate changed back
    for event in events:
        if event.kind in RUNNING and (not ran or ran[-1] != _mg(event.rate_mg_per_h)):
            ran.append(_mg(event.rate_mg_per_h))
    text = "Intravenous infusion"
    rate: dict[str, Any] | None = None
    if session.ended_at is None:
        if session.current_rate_mg_per_h:
            rate = _per_hour(session.current_rate_mg_per_h)
    elif len(ran) == 1:
        rate = _per_hour(ran[0])
    elif ran:
        text += ", the rate changed: " + ", then ".join(f"{r:g} mg/h" for r in ran)
    dose = None
    if session.ended_at is not None:
        given = _mg(given_mg_at(session, session.ended_at))
        dose = {"value": given, "unit": "mg", "system": UCUM, "code": "mg"}
    return {"text": text, "route": {"text": "Intravenous"}, "dose": dose, "rateQuantity": rate}


def _plan_note(session: InfusionSession) -> str:
    if session.plan_total_mg is None:
        return ""
    parts = [f"The plan's dose: {session.plan_total_mg:g} mg"]
    if session.plan_duration_min:
        parts.append(f"over {session.plan_duration_min} minutes")
    if session.plan_rate_mg_per_h:
        parts.append(f"at {session.plan_rate_mg_per_h:g} mg/h")
    return " ".join(parts) + "."


def medication_administration(session: InfusionSession) -> dict[str, Any]:
    events = list(session.rate_events.all())
    started = next((e for e in events if e.kind == RateEventKind.START), None)
    return pruned(
        {
            "resourceType": "MedicationAdministration",
            "id": str(session.public_id),
            "meta": {"lastUpdated": instant(session.updated_at)},
            "status": status(session),
            "medicationCodeableConcept": _medication(),
            "subject": reference("Patient", session.patient),
            "context": reference("Encounter", session),
            "effectivePeriod": {
                # Every row started (``_sessions``).
                "start": instant(session.started_at) if session.started_at else None,
                "end": instant(session.ended_at) if session.ended_at else None,
            },
            # Who started the pump (a session written without pump events names no one).
            "performer": [{"actor": reference("Practitioner", started.recorded_by)}]
            if started is not None
            else [],
            "request": reference("MedicationRequest", session.plan),
            "note": [{"text": _plan_note(session)}],
            "dosage": _dosage(session, events),
        }
    )


def _status(qs: QuerySet[InfusionSession], given: list[str]) -> QuerySet[InfusionSession]:
    match = Q()
    wanted = {value.rsplit("|", 1)[-1] for value in given} & set(_STATUS_ROWS)
    for code in wanted:
        match |= _STATUS_ROWS[code]
    return qs.filter(match) if wanted else qs.none()


def _code(qs: QuerySet[InfusionSession], given: list[str]) -> QuerySet[InfusionSession]:
    """Every session gave ketamine: RxNorm 6130 finds them all, any other code none."""
    for value in given:
        system, _, code = value.rpartition("|")
        if code == KETAMINE and system in ("", codes.RXNORM.uri):
            return qs
    return qs.none()


MEDICATION_ADMINISTRATION = ResourceType(
    name="MedicationAdministration",
    rows=_sessions,
    to_fhir=medication_administration,
    params={
        **subject_params(),
        # The administration has its session's id: the Encounter's.
        "context": Param(
            "reference", ids("public_id"), "Encounter/[id] (the session).", ("Encounter",)
        ),
        "request": Param(
            "reference",
            ids("plan__public_id"),
            "MedicationRequest/[id] (the plan).",
            ("MedicationRequest",),
        ),
        "effective-time": Param(
            "date", dates("started_at", param="effective-time"), "When the infusion started."
        ),
        "status": Param(
            "token",
            _status,
            "in-progress, on-hold, completed (the plan's dose given) or stopped (ended short"
            " of it).",
        ),
        "code": Param("token", _code, "http://www.nlm.nih.gov/research/umls/rxnorm|6130."),
    },
    updated_field="updated_at",
    patient_of=lambda row: row.patient,
    doc="Ketamine infusions given (RxNorm 6130): one per session that started.",
)
