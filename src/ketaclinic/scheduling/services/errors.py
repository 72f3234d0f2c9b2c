"""The refusals of the scheduling services, and which database constraint refused a row.

A refusal means nothing was changed. Like every other service's refusal it is a
``ValidationError`` naming the field it is about (``NON_FIELD_ERRORS`` when it is about the
whole booking), so a page shows it where the rest of the project shows one; its text is for the
person acting, and ``str()`` of it is that text, as it always was.
"""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError

from ketaclinic.scheduling.slots import SeriesProposal, Slot


class SchedulingError(ValidationError):
    """A refusal with a message for the person acting, under ``field``; nothing was changed."""

    def __init__(
        self, message: str, *, field: str = NON_FIELD_ERRORS, code: str | None = None
    ) -> None:
        super().__init__({field: ValidationError(message, code=code)})
        self.field = field

    def __str__(self) -> str:
        return " ".join(self.messages)


class SlotUnavailableError(SchedulingError):
    """The chosen time cannot be booked; ``alternatives`` are the nearest free slots."""

    def __init__(self, message: str, *, alternatives: list[Slot]) -> None:
        super().__init__(message, field="slot")
        self.alternatives = alternatives


class SeriesUnavailableError(SchedulingError):
    """A series that cannot be booked as asked; nothing was saved. ``proposal`` is the next
    feasible series from the same day, if there is one."""

    def __init__(self, message: str, *, proposal: SeriesProposal | None) -> None:
        super().__init__(message, field="sessions")
        self.proposal = proposal


def stale(what: str) -> SchedulingError:
    """The refusal of a write made from a page opened at an older version of ``what``."""
    return SchedulingError(
        f"This {what} was changed after you opened the page; nothing was changed. "
        "Reload to see it as it is now.",
        field="version",
        code="stale",
    )


def is_overlap(exc: IntegrityError) -> bool:
    """The provider's exclusion constraint (a trigger on SQLite) refused the row."""
    return "appointment_no_overlap" in str(exc)


def is_chair_overlap(exc: IntegrityError) -> bool:
    """The chair's exclusion constraint (a trigger on SQLite) refused the row."""
    return "appointment_chair_no_overlap" in str(exc)
