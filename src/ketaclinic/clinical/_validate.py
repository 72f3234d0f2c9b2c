"""Strict input checks shared by the clinical core.

The clinical contract says invalid input raises ``ValueError`` naming the offending field and that
nothing is guessed or silently clamped. These helpers enforce that uniformly:

- ``bool`` is a subclass of ``int`` in Python, so ``isinstance(True, int)`` is true. A checkbox
  value reaching an integer field (or a 0/1 reaching a yes/no field) is almost always a wiring bug,
  so booleans are refused where numbers are expected and numbers where booleans are expected.
- Only ``int`` and ``float`` (and their subclasses other than ``bool``) count as numbers. Strings
  such as ``"7"`` are refused rather than parsed: parsing belongs to the form or API layer.
- NaN and infinities are refused: every comparison with NaN is false, so a NaN blood pressure would
  silently pass every threshold rule.

Two styles are offered. ``*_problem`` functions return a short description of what is wrong (or
``None``) without naming a field, for callers that collect every error before raising (the
instrument scorer). ``require_*`` functions raise ``ValueError`` whose message starts with the field
name, for callers that stop at the first error.

The dose and PK arithmetic work in floats and accept any real number (a numpy scalar too):
``finite_float`` and ``positive_float`` are theirs, in their own wording ("x must be a number,
got 'y'"), field first.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from typing import TypeGuard, cast

__all__ = [
    "bool_problem",
    "date_problem",
    "finite_float",
    "int_problem",
    "is_number",
    "is_real",
    "is_strict_int",
    "number_problem",
    "positive_float",
    "require_bool",
    "require_date",
    "require_int",
    "require_number",
    "type_name",
]


def type_name(value: object) -> str:
    """The type name used in error messages (``bool``, ``str``, ``NoneType`` ...)."""
    return type(value).__name__


def is_strict_int(value: object) -> TypeGuard[int]:
    """True for an ``int`` that is not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> TypeGuard[int | float]:
    """True for a finite ``int`` or ``float`` that is not a ``bool``."""
    if is_strict_int(value):
        return True
    return isinstance(value, float) and math.isfinite(value)


def _range_text(
    minimum: float | None,
    maximum: float | None,
    *,
    min_exclusive: bool = False,
    max_exclusive: bool = False,
) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"{'greater than' if min_exclusive else 'at least'} {minimum:g}")
    if maximum is not None:
        parts.append(f"{'less than' if max_exclusive else 'at most'} {maximum:g}")
    return " and ".join(parts)


def bool_problem(value: object) -> str | None:
    """What is wrong with ``value`` as a yes/no answer, or ``None`` if it is a ``bool``."""
    if isinstance(value, bool):
        return None
    return f"must be true or false, not {type_name(value)} {value!r}"


def int_problem(
    value: object, *, minimum: int | None = None, maximum: int | None = None
) -> str | None:
    """What is wrong with ``value`` as a whole number in [minimum, maximum], or ``None``."""
    if not is_strict_int(value):
        return f"must be a whole number, not {type_name(value)} {value!r}"
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        return f"must be {_range_text(minimum, maximum)}, not {value}"
    return None


def number_problem(
    value: object,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    min_exclusive: bool = False,
    max_exclusive: bool = False,
) -> str | None:
    """What is wrong with ``value`` as a finite number in the given range, or ``None``."""
    if not is_number(value):
        if isinstance(value, float):
            return f"must be a finite number, not {value!r}"
        return f"must be a number, not {type_name(value)} {value!r}"
    too_low = minimum is not None and (value <= minimum if min_exclusive else value < minimum)
    too_high = maximum is not None and (value >= maximum if max_exclusive else value > maximum)
    if too_low or too_high:
        text = _range_text(
            minimum, maximum, min_exclusive=min_exclusive, max_exclusive=max_exclusive
        )
        return f"must be {text}, not {value!r}"
    return None


def date_problem(value: object) -> str | None:
    """What is wrong with ``value`` as a calendar date, or ``None``.

    ``datetime`` is a subclass of ``date`` but carries a time (and maybe a zone); comparing or
    subtracting it against plain dates either fails or silently mixes days with instants, so it is
    refused: the caller decides which local day a timestamp belongs to.
    """
    if isinstance(value, dt.datetime):
        return f"must be a date without a time, not datetime {value!r}"
    if isinstance(value, dt.date):
        return None
    return f"must be a date, not {type_name(value)} {value!r}"


def _raise_if(field: str, problem: str | None) -> None:
    if problem is not None:
        raise ValueError(f"{field} {problem}")


def require_bool(value: object, field: str) -> bool:
    """Return ``value`` if it is a ``bool``; otherwise raise ``ValueError`` naming ``field``."""
    _raise_if(field, bool_problem(value))
    return cast(bool, value)


def require_int(
    value: object, field: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Return ``value`` if it is a non-bool ``int`` in range; else raise naming ``field``."""
    _raise_if(field, int_problem(value, minimum=minimum, maximum=maximum))
    return cast(int, value)


def require_number(
    value: object,
    field: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    min_exclusive: bool = False,
    max_exclusive: bool = False,
) -> int | float:
    """Return ``value`` (unchanged) if it is a finite non-bool number in range; else raise.

    The value is returned as given, not converted to ``float``, so callers that need exact
    arithmetic on integers keep it.
    """
    _raise_if(
        field,
        number_problem(
            value,
            minimum=minimum,
            maximum=maximum,
            min_exclusive=min_exclusive,
            max_exclusive=max_exclusive,
        ),
    )
    return cast(int | float, value)


def require_date(value: object, field: str) -> dt.date:
    """Return ``value`` if it is a ``date`` (not a ``datetime``); else raise naming ``field``."""
    _raise_if(field, date_problem(value))
    return cast(dt.date, value)


def is_real(value: object) -> TypeGuard[numbers.Real]:
    """True for a real number (numpy scalars included) that is not a ``bool``; NaN included."""
    # Plain floats and ints first: the numbers.Real check is an ABC look-up, slow per element.
    if type(value) is float or type(value) is int:
        return True
    # Booleans are ints to Python but never a dose, a time or a rate.
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def finite_float(field: str, value: object) -> float:
    """The value as a finite float, or ``ValueError`` naming the field (the dose and PK wording)."""
    if not is_real(value):
        raise ValueError(f"{field} must be a number, got {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{field} must be finite, got {value!r}")
    return result


def positive_float(field: str, value: object) -> float:
    """``finite_float``, and greater than 0."""
    result = finite_float(field, value)
    if result <= 0:
        raise ValueError(f"{field} must be greater than 0, got {value!r}")
    return result
