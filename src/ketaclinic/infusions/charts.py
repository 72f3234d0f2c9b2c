"""The predicted concentration of the rates actually given, beside the planned curve.

The segments come from the session's rate events (each rate runs until the next event, the last
one until now while the pump runs); the drawing is ``plans.charts.concentration_chart_svg``
(``clinical.pk.simulate`` with the reference bands of
docs/clinical-policy.md "Pharmacokinetics [7]"), so the plan page and the infusion chart show the
same model the same way. An estimate, never a dosing instruction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from ketaclinic.clinical import pk
from ketaclinic.infusions.models import InfusionSession, RateEvent
from ketaclinic.plans.api import Segment, chart_caption, concentration_chart_svg
from ketaclinic.plans.models import KetamineProtocol


@dataclass(frozen=True)
class SessionCurve:
    svg: str
    caption: str
    given_segments: tuple[Segment, ...]
    planned_segments: tuple[Segment, ...]


def _minutes(start: dt.datetime, at: dt.datetime) -> float:
    return max((at - start).total_seconds() / 60, 0.0)


def given_segments(
    *, session: InfusionSession, rate_events: Sequence[RateEvent], now: dt.datetime
) -> tuple[Segment, ...]:
    """``(start_min, end_min, rate_mg_per_min)`` from the start, one per rate charted."""
    if session.started_at is None:
        return ()
    start = session.started_at
    # While the pump runs, its current rate is drawn on to the planned end (or to now, if that
    # is later), so the curve shows where the infusion is heading rather than a fall that has
    # not happened.
    running_until = now
    if session.ended_at is None and session.plan_duration_min is not None:
        running_until = max(now, start + dt.timedelta(minutes=session.plan_duration_min))
    segments: list[Segment] = []
    ordered = sorted(rate_events, key=lambda e: (e.at, e.pk or 0))
    for index, event in enumerate(ordered):
        last = index + 1 == len(ordered)
        until = ordered[index + 1].at if not last else (session.ended_at or running_until)
        begin, end = _minutes(start, event.at), _minutes(start, until)
        if event.rate_mg_per_h > 0 and end > begin:
            segments.append(
                pk.infusion_segment(
                    start_min=begin, duration_min=end - begin, rate_mg_per_h=event.rate_mg_per_h
                )
            )
    return tuple(segments)


def session_curve(
    *,
    session: InfusionSession,
    rate_events: Sequence[RateEvent],
    protocol: KetamineProtocol | None,
    now: dt.datetime,
) -> SessionCurve | None:
    """The chart for the session page; before the start, the planned curve alone."""
    if session.started_at is not None and session.plan_rate_mg_per_h is not None:
        weight = session.weight_kg
        model = session.pk_model or pk.DEFAULT_MODEL
        planned_rate = session.plan_rate_mg_per_h
        duration = session.plan_duration_min
    elif protocol is not None:
        weight = protocol.weight_kg
        model = protocol.pk_model
        planned_rate = protocol.rate_mg_per_h
        duration = protocol.duration_min
    else:
        return None
    if weight is None or duration is None:
        return None
    planned = (pk.infusion_segment(start_min=0, duration_min=duration, rate_mg_per_h=planned_rate),)
    given = given_segments(session=session, rate_events=rate_events, now=now)
    if session.started_at is None:
        svg = concentration_chart_svg(
            segments=planned,
            weight_kg=weight,
            model=model,
            title="Predicted plasma concentration (planned)",
            curve_label="Planned",
        )
    else:
        svg = concentration_chart_svg(
            segments=given,
            weight_kg=weight,
            model=model,
            compare_segments=planned,
            title="Predicted plasma concentration",
            curve_label="From the rates given",
            compare_label="Planned",
        )
    return SessionCurve(
        svg=svg, caption=chart_caption(model), given_segments=given, planned_segments=planned
    )
