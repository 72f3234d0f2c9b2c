"""The infusions app's answers to what scheduling asks (connected in ``InfusionsConfig.ready``).

Scheduling sits below infusions and may not import it; it asks through a signal instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ketaclinic.infusions.models import ACTIVE_STATUSES, InfusionSession

# Why the desk may not mark such an appointment completed (scheduling.signals.completion_held).
IN_A_CHAIR = (
    "The patient is in a chair: the infusion chart is still open. Discharge on the chart "
    "completes this appointment."
)


def completion_held_receiver(
    sender: object, *, appointment_ids: Sequence[int], **kwargs: Any
) -> dict[int, str]:
    """The appointments whose chair session is not closed yet (one query)."""
    held = InfusionSession.objects.filter(
        appointment_id__in=appointment_ids, status__in=ACTIVE_STATUSES
    ).values_list("appointment_id", flat=True)
    return {pk: IN_A_CHAIR for pk in held if pk is not None}
