"""The saved ketamine protocol in one line of words, the same wherever it is summarised.

"0.5 mg/kg over 40 min, 5 sessions, 35 mg, 5.2 mL/h": the dose as prescribed (per kg or
fixed, with the template's rate cap), the duration, the number of sessions, the session total and
the pump setting at the concentration on hand. The plan page shows it before signing so the
physician reads back what was saved; the print view and other pages use the same function.
"""

from __future__ import annotations

from decimal import Decimal

from ketaclinic.plans.models import KetamineProtocol

__all__ = ["duration_words", "figure", "protocol_words"]


def figure(value: float | Decimal, places: int = 2) -> str:
    """A dose figure without trailing zeros: 52.5 -> "52.5", 35.0 -> "35", 4.26820 -> "4.27"."""
    text = f"{round(float(value), places):.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def duration_words(minutes: int) -> str:
    """40 -> "40 min", 240 -> "4 h", 150 -> "2 h 30 min"."""
    hours, rest = divmod(minutes, 60)
    parts = [f"{hours} h"] if hours else []
    if rest or not hours:
        parts.append(f"{rest} min")
    return " ".join(parts)


def protocol_words(protocol: KetamineProtocol) -> str:
    """The protocol as saved, in words (see the module docstring)."""
    if protocol.dose_mg_per_kg is not None:
        dose = f"{figure(protocol.dose_mg_per_kg, 3)} mg/kg"
    else:
        dose = f"{figure(protocol.fixed_dose_mg or 0, 2)} mg"
    cap = ""
    if protocol.rate_cap_mg_per_h is not None:
        cap = f", capped at {figure(protocol.rate_cap_mg_per_h)} mg/h"
    sessions = f"{protocol.sessions_count} session{'s' if protocol.sessions_count != 1 else ''}"
    # Protocols stored before the pump setting existed show the computed rate.
    ml_per_h = (
        protocol.pump_rate_ml_per_h
        if protocol.pump_rate_ml_per_h is not None
        else protocol.rate_ml_per_h
    )
    return (
        f"{dose} over {duration_words(protocol.duration_min)}{cap}, {sessions}, "
        f"{figure(protocol.total_mg)} mg, {figure(ml_per_h)} mL/h"
    )
