"""What every clinic set-up write does to its input before it decides anything.

Kept apart from the aggregates because locations, chairs, protocol templates and the safety
settings all take a mapping of values from a form, refuse a field the form should never send,
record each change as old and new for the audit trail, and keep one name per scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet


def refuse_unknown(values: Mapping[str, object], allowed: tuple[str, ...]) -> None:
    # A programming error, not bad input: forms only send the fields they know.
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ValueError(f"{unknown[0]}: this field cannot be changed here")


def apply_changes(instance: Any, values: Mapping[str, object]) -> dict[str, dict[str, object]]:
    """Set the values; return {field: {"old", "new"}} for those that changed."""
    changes: dict[str, dict[str, object]] = {}
    for name, value in values.items():
        old = getattr(instance, name)
        if old != value:
            setattr(instance, name, value)
            changes[name] = {"old": old, "new": value}
    return changes


def strip(values: Mapping[str, object]) -> dict[str, object]:
    return {k: v.strip() if isinstance(v, str) else v for k, v in values.items()}


def refuse_taken_name(scope: QuerySet[Any], record: Model, message: str) -> None:
    """Refuse a name another row of ``scope`` already has, in any letter case.

    The database's unique constraint is case-sensitive; people reading a list are not, so the
    check is made here, under the ``name`` field."""
    taken = scope.filter(name__iexact=record.name)  # type: ignore[attr-defined]
    if record.pk is not None:
        taken = taken.exclude(pk=record.pk)
    if taken.exists():
        raise ValidationError({"name": message})
