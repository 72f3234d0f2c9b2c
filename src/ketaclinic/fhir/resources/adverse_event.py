"""AdverseEvent: what a nurse charted as an adverse event of an infusion session (dissociation,
nausea, a blood-pressure rise...), in the encounter of its session.

The event is the clinic's own kind (no code of the project's tables names these: the clinic's
CodeSystem, and the words); the severity is HL7's (mild, moderate, severe: the same three); the
outcome HL7's (resolved, recovering for "improving", ongoing, and ongoing too for "transferred for
further care": not resolved when it left the clinic's hands). No category is given: HL7's
adverse-event categories name errors (a wrong dose, a device misused), not a drug's effects; nor
a seriousness, which is a regulatory judgement the chart does not record (a severe headache is
not a serious adverse event). The suspect is the ketamine given (the session's
MedicationAdministration) when the event began after the infusion started. What was done and the
nurse's note have no element in R4's AdverseEvent: the resource's narrative states them with the
rest ("additional": it holds more than the elements).

Clinical notes: the clinic's nurses, physicians and admins read them, and its backend systems;
not the patient nor the front desk, as on the pages (``FhirReader.chart_patients``).
"""

from __future__ import annotations

from html import escape
from typing import Any

from django.db.models import QuerySet

from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.resources.base import ResourceType, instant, pruned, reference, typed_text
from ketaclinic.fhir.search import Param, dates, subject_params, tokens
from ketaclinic.infusions.models import AdverseEvent, AdverseEventKind, Outcome, Severity

KIND_SYSTEM = "https://ketaclinic.org/fhir/CodeSystem/adverse-event-kind"
SEVERITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
OUTCOME_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
SEVERITIES = {
    Severity.MILD: ("mild", "Mild"),
    Severity.MODERATE: ("moderate", "Moderate"),
    Severity.SEVERE: ("severe", "Severe"),
}
OUTCOMES = {
    Outcome.RESOLVED: ("resolved", "Resolved"),
    Outcome.IMPROVING: ("recovering", "Recovering"),
    Outcome.ONGOING: ("ongoing", "Ongoing"),
    Outcome.TRANSFERRED: ("ongoing", "Ongoing"),
}


def _events(reader: FhirReader) -> QuerySet[AdverseEvent]:
    return AdverseEvent.objects.filter(
        session__clinic_id=reader.clinic_id, session__patient__in=reader.chart_patients()
    ).select_related("session__patient__clinic", "session__location", "recorded_by")


def _coded(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _narrative(row: AdverseEvent) -> dict[str, str]:
    lines = [
        f"{row.get_kind_display()}, {row.get_severity_display().lower()}.",
        f"Done: {', '.join(row.intervention_labels())}.",
        f"Outcome: {row.get_outcome_display()}.",
    ]
    if row.note:
        lines.append(f"Note: {typed_text(row.note)}")
    body = "".join(f"<p>{escape(line)}</p>" for line in lines)
    return {
        "status": "additional",
        "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>',
    }


def adverse_event(row: AdverseEvent) -> dict[str, Any]:
    session = row.session
    kind = str(row.get_kind_display())
    severity = SEVERITIES[Severity(row.severity)]
    outcome = OUTCOMES[Outcome(row.outcome)]
    # Ketamine is the suspect of what began once it was running, not of what came before.
    suspect = session.started_at is not None and row.onset_at >= session.started_at
    return pruned(
        {
            "resourceType": "AdverseEvent",
            "id": str(row.public_id),
            # Adverse events are never edited: their recording is the last change.
            "meta": {"lastUpdated": instant(row.recorded_at)},
            "text": _narrative(row),
            "actuality": "actual",
            "event": _coded(KIND_SYSTEM, row.kind, kind),
            "subject": reference("Patient", session.patient),
            "encounter": reference("Encounter", session),
            "date": instant(row.onset_at),
            "recordedDate": instant(row.recorded_at),
            "location": reference("Location", session.location),
            "severity": _coded(SEVERITY_SYSTEM, *severity),
            "outcome": _coded(OUTCOME_SYSTEM, *outcome),
            "recorder": reference("Practitioner", row.recorded_by),
            "suspectEntity": [{"instance": reference("MedicationAdministration", session)}]
            if suspect
            else [],
        }
    )


ADVERSE_EVENT = ResourceType(
    name="AdverseEvent",
    rows=_events,
    to_fhir=adverse_event,
    params={
        **subject_params("session__patient__public_id"),
        "date": Param("date", dates("onset_at", param="date"), "When it began."),
        "event": Param(
            "token",
            tokens("kind", {kind.value: kind.value for kind in AdverseEventKind}, KIND_SYSTEM),
            f"The kind: {', '.join(AdverseEventKind.values)}.",
        ),
        "severity": Param(
            "token",
            tokens(
                "severity",
                {code: s.value for s, (code, _) in SEVERITIES.items()},
                SEVERITY_SYSTEM,
            ),
            "mild, moderate or severe.",
        ),
    },
    updated_field="recorded_at",
    patient_of=lambda row: row.session.patient,
    doc="Adverse events charted during an infusion session.",
)
