"""The refusals of the scheduling services, and which database constraint refused a row.

A refusal means nothing was changed; its message is for the person acting.
"""

from __future__ import annotations

from django.db import IntegrityError

from ketaclinic.scheduling.slots import SeriesProposal, Slot


class SchedulingError(Exception):
    """A refusal with a message for the person acting; nothing was changed."""


class SlotUnavailableError(SchedulingError):
    def __init__(self, message: str, *, alternatives: list[Slot]) -> None:
        super().__init__(message)
        self.alternatives = alternatives


class SeriesUnavailableError(SchedulingError):
    """A series that cannot be booked as asked; nothing was saved. ``proposal`` is the next
    feasible series from the same day, if there is one."""

    def __init__(self, message: str, *, proposal: SeriesProposal | None) -> None:
        super().__init__(message)
        self.proposal = proposal


def is_overlap(exc: IntegrityError) -> bool:
    """The provider's exclusion constraint (a trigger on SQLite) refused the row."""
    return "appointment_no_overlap" in str(exc)


def is_chair_overlap(exc: IntegrityError) -> bool:
    """The chair's exclusion constraint (a trigger on SQLite) refused the row."""
    return "appointment_chair_no_overlap" in str(exc)
