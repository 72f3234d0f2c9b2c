"""What the safety walks share: the infusion-day clock, and what a refused step leaves alone."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from typing import Any

import time_machine
from django.utils import timezone

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

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def afternoon_clock() -> Iterator[dt.datetime]:
    """Today at 15:00 in New York, ticking: an infusion day never straddles midnight."""
    today = timezone.now().astimezone(NEW_YORK).date()
    at = dt.datetime.combine(today, dt.time(15, 0), tzinfo=NEW_YORK)
    with time_machine.travel(at, tick=True):
        yield at


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
