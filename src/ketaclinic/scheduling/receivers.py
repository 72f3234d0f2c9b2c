"""Scheduling's answers to what lower apps announce (connected in ``SchedulingConfig.ready``).

The plans app sits below scheduling and may not call it; it sends a signal instead, and the
work it asks for is done here through scheduling's own services (locks, audit, emails).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ketaclinic.audit.api import Actor
from ketaclinic.scheduling.services import series_replace_for_revision


def plan_superseded_receiver(
    sender: object, *, actor: Actor, superseded_plan_ids: Sequence[int], **kwargs: Any
) -> list[str]:
    """``plans.signals.plan_superseded`` (gate 3): cancel the sessions still to come of the
    superseded plans' series, in the signing transaction; returns the cancelled series' ids."""
    return series_replace_for_revision(actor=actor, superseded_plan_ids=superseded_plan_ids)
