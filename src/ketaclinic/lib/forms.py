"""Helpers shared by services and forms: turning validation failures into field-named messages,
and the hidden number fields every versioned form carries."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator

# The largest version or row id a form may send back: a signed 32-bit integer, which no clinic
# reaches (a version counts saves of one record), and far inside what SQLite and PostgreSQL
# compare without overflowing. Anything larger is refused by the form, never sent to a query.
ROW_NUMBER_MAX = 2**31 - 1


class StaleObjectError(ValidationError):
    """Optimistic locking: the record changed since the form was loaded."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"This {what} was changed by someone else after you opened it. "
            "Reload the page to see the latest version, then make your change again.",
            code="stale",
        )


def hidden_number_field(*, min_value: int = 0, **kwargs: Any) -> forms.IntegerField:
    """A hidden whole number the page drew (the version a form was opened at, a row's id),
    bounded so a tampered value is refused by the form with a message, not by the database."""
    return forms.IntegerField(
        widget=forms.HiddenInput, min_value=min_value, max_value=ROW_NUMBER_MAX, **kwargs
    )


def bounded(
    field: forms.Field,
    low: float,
    high: float,
    *,
    message: str = "",
    below: str = "",
    above: str = "",
) -> forms.Field:
    """Explicit bounds on a number field made elsewhere (a model form's, a dynamic one), so no
    number outside them (400 digits, a minus sign) reaches a service or a query. ``message``
    replaces Django's wording for both ends where the page has its own; ``below`` and ``above``
    for one end each."""
    if not isinstance(field, forms.IntegerField | forms.FloatField | forms.DecimalField):
        raise TypeError(f"not a number field: {type(field).__name__}")
    # The stubs type these as whole numbers (IntegerField's); a float or decimal field's bounds
    # are floats, which Django compares the same way.
    field.min_value, field.max_value = low, high  # type: ignore[assignment]
    field.validators.extend([MinValueValidator(low), MaxValueValidator(high)])
    for code, text in (("min_value", below or message), ("max_value", above or message)):
        if text:
            field.error_messages[code] = text
    return field
