"""Appointment: the schedule's bookings (consultations, infusions), as the schedule pages show
them to the same reader: the clinic's staff (the front desk too: the schedule is not clinical
content), or the patient her own. ``_include`` brings the patient, the location and the
practitioner along."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.resources.base import ResourceType, instant, pruned, reference
from ketaclinic.fhir.search import PATIENT, Param, dates, ids, tokens
from ketaclinic.scheduling.models import Appointment, AppointmentStatus

# http://hl7.org/fhir/appointmentstatus
STATUSES = {
    AppointmentStatus.BOOKED: "booked",
    AppointmentStatus.CANCELLED: "cancelled",
    AppointmentStatus.ARRIVED: "arrived",
    AppointmentStatus.NO_SHOW: "noshow",
    AppointmentStatus.COMPLETED: "fulfilled",
}


def _appointments(reader: FhirReader) -> QuerySet[Appointment]:
    return Appointment.objects.filter(
        clinic_id=reader.clinic_id, patient__in=reader.patients()
    ).select_related("patient__clinic", "location__clinic", "provider", "type")


def appointment(row: Appointment) -> dict[str, Any]:
    status = STATUSES[AppointmentStatus(row.status)]
    taking_part = "declined" if status == "cancelled" else "accepted"
    return pruned(
        {
            "resourceType": "Appointment",
            "id": str(row.public_id),
            "meta": {"lastUpdated": instant(row.updated_at)},
            "status": status,
            "serviceType": [{"text": row.type.name}],
            "description": row.type.name,
            "start": instant(row.start),
            "end": instant(row.end),
            "minutesDuration": max(1, round((row.end - row.start).total_seconds() / 60)),
            "created": instant(row.created_at),  # the moment: a UTC date could be tomorrow's
            "participant": [
                {"actor": reference("Patient", row.patient), "status": taking_part},
                {"actor": reference("Practitioner", row.provider), "status": taking_part},
                {"actor": reference("Location", row.location), "status": taking_part},
            ],
        }
    )


APPOINTMENT = ResourceType(
    name="Appointment",
    rows=_appointments,
    to_fhir=appointment,
    params={
        "patient": Param("reference", ids("patient__public_id"), "Patient/[id].", PATIENT),
        "actor": Param(
            "reference", ids("patient__public_id"), "Patient/[id] (the patient).", PATIENT
        ),
        "practitioner": Param(
            "reference", ids("provider__public_id"), "Practitioner/[id].", ("Practitioner",)
        ),
        "location": Param("reference", ids("location__public_id"), "Location/[id].", ("Location",)),
        "date": Param("date", dates("start", param="date"), "When it starts."),
        "status": Param(
            "token",
            tokens("status", {code: status.value for status, code in STATUSES.items()}),
            "booked, cancelled, arrived, noshow or fulfilled.",
        ),
    },
    updated_field="updated_at",
    patient_of=lambda row: row.patient,
    includes={
        "Appointment:patient": ("Patient", lambda row: row.patient),
        "Appointment:location": ("Location", lambda row: row.location),
        "Appointment:practitioner": ("Practitioner", lambda row: row.provider),
    },
    doc="Bookings: consultations and infusions, as the schedule shows them.",
)
