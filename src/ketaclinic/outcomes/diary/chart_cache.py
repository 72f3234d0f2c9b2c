"""The pain chart drawn once per change of what it shows, then served from a cache.

Drawing the chart (matplotlib, ``charts.pain_chart_svg``) was most of a diary page's time, and
the same chart was drawn again on every visit. The key is a hash of everything the drawing
depends on: the patient, the chart's shape, every point, session, line and label, the drawing
code's version, and today's date only when there is nothing to draw (the one case where the
x-axis is placed from today). So a new diary entry, a session given, a series or relapse that
changes, or another size is another key and is drawn afresh, with no invalidation to forget;
an unchanged chart is a cache read. The key is opaque (a SHA-256): no patient identifier or
value can be read from it. Old keys simply expire.

The cache is Django's "charts" alias (``settings.CACHES``: its own database table, or Redis when
``REDIS_URL`` is set), else the default one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from django.conf import settings
from django.core.cache import BaseCache, caches

from ketaclinic.outcomes.diary import charts
from ketaclinic.outcomes.selectors import SeriesSpan

#: Bumped whenever ``charts.pain_chart_svg`` draws differently, so no old drawing is served
#: (2: drawn by ``lib.plot`` instead of matplotlib).
DRAWING_VERSION: Final = 2
#: How long an unchanged chart is kept: a patient who looks weekly still gets it from the cache.
CHART_TIMEOUT_SECONDS: Final = 7 * 24 * 3600


@dataclass
class ChartCacheCounts:
    """Drawn (cache misses) and served from the cache, since the process started."""

    drawn: int = 0
    served: int = 0


#: This process's counts (the tests read ``drawn`` to see that an unchanged chart is not drawn).
COUNTS: Final = ChartCacheCounts()


def _cache() -> BaseCache:
    return caches["charts"] if "charts" in settings.CACHES else caches["default"]


def chart_key(
    *,
    patient_id: int,
    nrs: Sequence[tuple[dt.date, float]],
    peg: Sequence[tuple[dt.date, float]],
    series: Sequence[SeriesSpan],
    baseline: float | None,
    threshold: float | None,
    relapses: Sequence[dt.date],
    today: dt.date,
    label: str,
    wide: bool,
) -> str:
    """The cache key of a chart with these inputs: an opaque hash of all of them."""
    empty = not (nrs or peg or series or relapses)
    inputs = {
        "v": DRAWING_VERSION,
        "patient": patient_id,
        "wide": wide,
        "label": label,
        # repr keeps every digit of a float, so two values never share a key.
        "nrs": [(d.isoformat(), repr(v)) for d, v in nrs],
        "peg": [(d.isoformat(), repr(v)) for d, v in peg],
        "series": [
            (s.start.isoformat(), s.end.isoformat(), [d.isoformat() for d in s.sessions])
            for s in series
        ],
        "baseline": repr(baseline),
        "threshold": repr(threshold),
        "relapses": [d.isoformat() for d in relapses],
        "today": today.isoformat() if empty else None,
    }
    digest = hashlib.sha256(json.dumps(inputs, separators=(",", ":")).encode()).hexdigest()
    return f"pain-chart:{digest}"


def pain_chart_cached(
    *,
    patient_id: int,
    nrs: Sequence[tuple[dt.date, float]],
    peg: Sequence[tuple[dt.date, float]] = (),
    series: Sequence[SeriesSpan] = (),
    baseline: float | None = None,
    threshold: float | None = None,
    relapses: Sequence[dt.date] = (),
    today: dt.date,
    label: str = "Pain over time",
    wide: bool = False,
) -> str:
    """``charts.pain_chart_svg`` of these inputs, drawn only when the cache does not hold it."""
    key = chart_key(
        patient_id=patient_id,
        nrs=nrs,
        peg=peg,
        series=series,
        baseline=baseline,
        threshold=threshold,
        relapses=relapses,
        today=today,
        label=label,
        wide=wide,
    )
    cache = _cache()
    svg = cache.get(key)
    if isinstance(svg, str):
        COUNTS.served += 1
        return svg
    svg = charts.pain_chart_svg(
        nrs=nrs,
        peg=peg,
        series=series,
        baseline=baseline,
        threshold=threshold,
        relapses=relapses,
        today=today,
        label=label,
        wide=wide,
    )
    COUNTS.drawn += 1
    cache.set(key, svg, CHART_TIMEOUT_SECONDS)
    return svg
