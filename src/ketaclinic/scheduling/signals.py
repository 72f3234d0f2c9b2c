"""Signals other apps may listen to without scheduling knowing them."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.dispatch import Signal

# Sent after commit when appointments changed state or time (arrived, completed, missed,
# cancelled, rescheduled), with ``patient_ids``: the patients whose treatment history changed.
# The outcomes app recomputes their stored series results. Bulk changes made outside these
# services (imports, the seed command) send nothing; the 6-hourly refresh covers them.
appointments_changed = Signal()


def announce_appointments_changed(patient_ids: Iterable[int | None]) -> None:
    """Send ``appointments_changed`` once the current transaction commits."""
    ids = sorted({pid for pid in patient_ids if pid is not None})
    if not ids:
        return
    transaction.on_commit(
        lambda: appointments_changed.send(sender=None, patient_ids=ids), robust=True
    )


# Asked before the desk marks appointments completed, with ``appointment_ids``: a receiver
# answers ``{appointment_id: reason}`` for those another record still holds open, so the desk
# neither offers nor records "Completed" for them. The infusions app answers for a chair session
# not yet closed: the chart's discharge completes that appointment.
completion_held = Signal()


def completion_holds(appointment_ids: Iterable[int]) -> dict[int, str]:
    """Why each of ``appointment_ids`` may not be completed by the desk (absent: it may)."""
    ids = sorted(set(appointment_ids))
    holds: dict[int, str] = {}
    if not ids:
        return holds
    for _receiver, answer in completion_held.send(sender=None, appointment_ids=ids):
        if isinstance(answer, dict):
            holds.update(answer)
    return holds
