"""Snapshots that let the outcomes refusal tests assert nothing changed."""

from __future__ import annotations

from ketaclinic.audit.models import Action, AuditEvent
from ketaclinic.outcomes.models import (
    BoosterSuggestion,
    DiaryEntry,
    DiaryLink,
    ReminderSchedule,
)
from ketaclinic.scheduling.models import Appointment, AppointmentType


def _writes() -> int:
    # Writes only: a refused form shown again is a page of patient data, and records its read.
    return AuditEvent.objects.exclude(action__in=[Action.READ, Action.EXPORT]).count()


def snapshot() -> dict[str, object]:
    """Everything a diary write could touch, to assert a refusal changed nothing."""
    return {
        "entries": list(
            DiaryEntry.objects.order_by("pk").values_list(
                "pk", "instrument", "entry_date", "score", "note", "version"
            )
        ),
        "links": list(DiaryLink.objects.order_by("pk").values_list("pk", "used_at")),
        "schedules": list(
            ReminderSchedule.objects.order_by("pk").values_list(
                "pk", "enabled", "paused_until", "version", "next_due_at"
            )
        ),
        "audit": _writes(),
    }


def booster_snapshot() -> dict[str, object]:
    """Every booster suggestion and the counts a booster decision could change."""
    return {
        "suggestions": list(
            BoosterSuggestion.objects.order_by("pk").values_list(
                "pk", "status", "decline_reason", "version", "appointment_id", "appointment_type_id"
            )
        ),
        "appointments": Appointment.objects.count(),
        "types": AppointmentType.objects.count(),
        "audit": _writes(),
    }
