"""What a refused step of the infusion day must leave alone, for the safety walks to compare."""

from __future__ import annotations

from typing import Any

from ketaclinic.audit.models import AuditEvent
from ketaclinic.infusions.models import (
    ChartEntry,
    ControlledSubstanceRecord,
    DoseDeviation,
    InfusionSession,
    Observation,
    PreInfusionCheck,
    RateEvent,
)


def chart_rows() -> dict[str, Any]:
    """Every row of the infusion day a refused step must leave as it was."""
    return {
        "sessions": list(
            InfusionSession.objects.order_by("id").values(
                "id",
                "status",
                "version",
                "start_cleared",
                "started_at",
                "ended_at",
                "discharged_at",
                "open_deviations",
                "signed_at",
            )
        ),
        "entries": ChartEntry.objects.count(),
        "observations": Observation.objects.count(),
        "rates": list(RateEvent.objects.order_by("id").values_list("id", "kind", "at")),
        "checks": list(
            PreInfusionCheck.objects.order_by("id").values_list("id", "passed", "override_by")
        ),
        "deviations": list(DoseDeviation.objects.order_by("id").values_list("id", "reviewed_at")),
        "controlled": list(
            ControlledSubstanceRecord.objects.values_list("id", "drawn_mg", "reconciled_at")
        ),
        # The chart shown again with the refusal is a read, audited as every read is.
        "audit": AuditEvent.objects.exclude(action="read").count(),
    }
