"""Helpers shared by services: turning validation failures into field-named messages."""

from __future__ import annotations

from django.core.exceptions import ValidationError


class StaleObjectError(ValidationError):
    """Optimistic locking: the record changed since the form was loaded."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"This {what} was changed by someone else after you opened it. "
            "Reload the page to see the latest version, then make your change again.",
            code="stale",
        )
