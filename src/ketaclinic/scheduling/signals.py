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
