"""Numbers read as the decimal they were entered as, for exact comparisons with limits.

Binary floating point cannot tell "exactly at a limit" from "one rounding error past it" (0.35
mg/kg over 21 min is 1.0000000000000002 mg/kg/h in floats), so dose, rate and charting checks
compare the shortest decimal that round-trips each float (its ``repr``, i.e. what was typed or
stored), in rational arithmetic. One definition here so every check reads a number the same way
(see the ``clinical.dosing`` docstring).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

__all__ = ["entered_decimal", "exact", "shortest"]


def exact(value: float) -> Fraction:
    """The decimal the float was entered as, exactly."""
    # float() first: repr of a numpy scalar or a Fraction is not a decimal literal.
    return Fraction(Decimal(repr(float(value))))


def entered_decimal(value: float) -> Decimal:
    """The decimal the number was entered as, as a ``Decimal`` (what a pump display shows)."""
    return Decimal(repr(float(value)))


def shortest(value: Fraction | float) -> str:
    """A number for a message: the shortest decimal that identifies it, so 1.0000000001 is not
    shown as 1 next to a limit of 1."""
    return repr(float(value))
