"""Clinic outcome analytics: responder rates, durability curves, adverse events and no-shows.

Every series is judged exactly as the clinician's chart judges it: baseline, follow-up, response
class, relief and relapse come from ``ketaclinic.clinical.outcomes`` through
``outcomes.selectors.series_outcomes``, and are stored per series as ``SeriesResult`` rows by
``outcomes.durability.services`` (after each daily score and on the periodic refresh). This
module only aggregates those rows in the database: responder counts grouped by cause and by
protocol are ``COUNT ... GROUP BY`` queries, and the Kaplan-Meier curves are estimated on one
(days of relief, relapsed) pair per relieved series, with lifelines' arithmetic (``kaplan_meier``;
the tests hold it to lifelines' own estimate, bit for bit). The page costs the same few queries
for 30 patients or 100,000, and reads no diary entry.

Those aggregates still read every stored result and every infusion appointment of the clinic:
about a quarter of a second at 10,000 patients and more at a chain's size. So the figures are
kept (``analytics_cache``) per clinic, filters and state of the stored results
(``results_generation``: when the refresh last stored any), and drawn again when that state
moves: the periodic refresh takes every change (a score, an appointment, a session) within
minutes, and after a run that stored anything the worker draws the unfiltered page at once
(``analytics_warm``). The page says as of when its figures are.

Definitions (docs/clinical-policy.md "Outcomes [6.1]", docs/design.md "Clinical core contract"):

- a series is the given sessions of one induction series (the pump started; deferred, missed
  and cancelled sessions never count, ``outcomes.selectors.infusion_session_rows``; days in the
  location's calendar); it is judged on the diary after its last given session and before the
  patient's next series;
- the response class compares the baseline with the mean daily NRS of the 7 days after the
  series (at least 4 days); a responder has at least 30% less pain (moderate or substantial);
- relief and relapse are ``clinical.outcomes.durability``'s: relief from the first day whose
  7-day window mean is at most 70% of baseline, relapse on the first of 3 consecutive days above
  it; without a relapse the series is censored at its last diary entry. Series without relief
  are not in the survival curves.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.core.cache import BaseCache, caches
from django.db import transaction
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from ketaclinic.audit.api import Actor, audit_record, day_bounds
from ketaclinic.audit.models import Action
from ketaclinic.clinics.models import Clinic, Location
from ketaclinic.infusions.models import AdverseEvent
from ketaclinic.outcomes.models import ResultsMark, SeriesResult
from ketaclinic.scheduling.models import Appointment, AppointmentKind, AppointmentStatus

RESPONDER_CLASSES = ("substantial", "moderate")
UNKNOWN_CAUSE = "No cause recorded"
UNKNOWN_PROTOCOL = "No protocol recorded"
# Every 4 weeks to a year: the Kaplan-Meier chart's x ticks, with the numbers at risk under them.
AT_RISK_WEEKS = tuple(range(0, 53, 4))
ALL_SERIES = "All series"
# A kept set of figures is read again only while the results' state is the same, so the time
# limit only clears out old states (a day: the refresh moves the state far more often).
KEPT_SECONDS = 24 * 60 * 60


@dataclass(frozen=True)
class Filters:
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    location: Location | None = None


@dataclass(frozen=True)
class RateRow:
    label: str
    series: int
    judged: int
    responders: int

    @property
    def rate(self) -> float | None:
        return None if self.judged == 0 else self.responders / self.judged


@dataclass(frozen=True)
class Curve:
    """A Kaplan-Meier estimate of relief duration; ``timeline`` in days."""

    label: str
    timeline: list[float]
    survival: list[float]
    at_risk: list[tuple[int, int]]  # (week, number at risk)
    events: int
    censored: int
    median_days: float | None
    # Where each censored series leaves the curve: (days, survival there), one per distinct day.
    censor_marks: list[tuple[float, float]] = field(default_factory=list)

    @property
    def median_weeks(self) -> float | None:
        return None if self.median_days is None else self.median_days / 7


@dataclass
class ClinicAnalytics:
    filters: Filters
    by_cause: list[RateRow]
    by_protocol: list[RateRow]
    overall: RateRow
    curves: list[Curve]
    sessions: int
    adverse_events: int
    no_shows: int
    attended: int
    computed_at: dt.datetime | None = None
    at_risk_weeks: Sequence[int] = field(default=AT_RISK_WEEKS)

    @property
    def adverse_events_per_100(self) -> float | None:
        return None if self.sessions == 0 else 100.0 * self.adverse_events / self.sessions

    @property
    def no_show_rate(self) -> float | None:
        total = self.no_shows + self.attended
        return None if total == 0 else self.no_shows / total


def series_results(*, clinic: Clinic, filters: Filters) -> QuerySet[SeriesResult]:
    """The clinic's stored series results within the filters (series start date, location)."""
    results = SeriesResult.objects.filter(clinic=clinic)
    if filters.location is not None:
        results = results.filter(location=filters.location)
    if filters.date_from is not None:
        results = results.filter(start__gte=filters.date_from)
    if filters.date_to is not None:
        results = results.filter(start__lte=filters.date_to)
    return results


_RATE_COUNTS: dict[str, Any] = {
    "series": Count("pk"),
    "judged": Count("pk", filter=~Q(response="")),
    "responders": Count("pk", filter=Q(response__in=RESPONDER_CLASSES)),
}


def _grouped(
    results: QuerySet[SeriesResult], key: str, unknown: str
) -> tuple[list[RateRow], dt.datetime | None]:
    """Responder counts per value of ``key``, and when the newest of those results was
    computed (one GROUP BY query)."""
    rows = list(
        results.order_by().values(key).annotate(**_RATE_COUNTS, computed_at=Max("computed_at"))
    )
    rates = [
        RateRow(
            label=row[key] or unknown,
            series=row["series"],
            judged=row["judged"],
            responders=row["responders"],
        )
        for row in rows
    ]
    latest = max((row["computed_at"] for row in rows), default=None)
    return sorted(rates, key=lambda r: r.label), latest


def _total(label: str, rows: Sequence[RateRow]) -> RateRow:
    return RateRow(
        label=label,
        series=sum(r.series for r in rows),
        judged=sum(r.judged for r in rows),
        responders=sum(r.responders for r in rows),
    )


def kaplan_meier(label: str, days: Sequence[int], relapsed: Sequence[bool]) -> Curve | None:
    """The Kaplan-Meier (product-limit) estimate of relief duration (days) of relieved series.

    Computed as lifelines' ``KaplanMeierFitter`` computes it, step for step, so the two agree
    to the last bit (``tests/analytics/test_km_estimate.py``): the timeline is day 0 and every
    distinct duration; at each, log(at risk - relapsed) - log(at risk) is summed and
    exponentiated; the median is the first day the estimate is at most 0.5. lifelines itself
    would bring pandas and scipy into the web worker, about 120 MiB for a page that needs a few
    sums (docs/benchmarks.md "Web worker memory"); numpy is imported here, when a page asks.
    """
    if not days:
        return None
    import numpy as np

    durations = np.asarray(days, dtype=float)
    observed = np.asarray(relapsed, dtype=bool)
    # Everyone enters at day 0; lifelines' event table is indexed by 0 and every duration.
    timeline, index = np.unique(np.concatenate(([0.0], durations)), return_inverse=True)
    removed = np.bincount(index[1:], minlength=timeline.size).astype(float)
    deaths = np.bincount(index[1:], weights=observed.astype(float), minlength=timeline.size)
    at_risk = durations.size - np.concatenate(([0.0], np.cumsum(removed)[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        # A day on which every series still followed relapsed gives log(0): survival 0.
        steps = np.log(at_risk - deaths) - np.log(at_risk)
    survival = np.exp(np.cumsum(steps))
    below = np.flatnonzero(survival <= 0.5)
    censor_days = sorted({float(t) for t in durations[~observed]})
    # A censored duration is on the timeline: the estimate there is the step's value.
    censor_at = survival[np.searchsorted(timeline, censor_days)] if censor_days else []
    return Curve(
        label=label,
        timeline=[float(t) for t in timeline],
        survival=[float(v) for v in survival],
        # At risk at week w: series whose relief was still being followed on day 7w.
        at_risk=[(week, int((durations >= 7 * week).sum())) for week in AT_RISK_WEEKS],
        events=int(observed.sum()),
        censored=int((~observed).sum()),
        median_days=float(timeline[below[0]]) if below.size else None,
        censor_marks=[(t, float(v)) for t, v in zip(censor_days, censor_at, strict=True)],
    )


def _curves(results: QuerySet[SeriesResult]) -> list[Curve]:
    """All relieved series, then one curve per cause (one query for all of them)."""
    by_cause: dict[str, tuple[list[int], list[bool]]] = defaultdict(lambda: ([], []))
    every: tuple[list[int], list[bool]] = ([], [])
    for cause, days, relapse_date in (
        results.filter(responded=True, days_of_relief__isnull=False)
        .order_by()
        .values_list("cause", "days_of_relief", "relapse_date")
    ):
        if days is None:  # excluded by the filter; the check is for the type checker
            continue
        for target in (every, by_cause[cause or UNKNOWN_CAUSE]):
            target[0].append(days)
            target[1].append(relapse_date is not None)
    curves = [kaplan_meier(ALL_SERIES, *every)]
    curves += [kaplan_meier(label, *by_cause[label]) for label in sorted(by_cause)]
    return [curve for curve in curves if curve is not None]


def _appointment_counts(*, clinic: Clinic, filters: Filters) -> tuple[dict[str, int], int]:
    appointments = Appointment.objects.filter(clinic=clinic, type__kind=AppointmentKind.INFUSION)
    if filters.location is not None:
        appointments = appointments.filter(location=filters.location)
    start, end = day_bounds(filters.date_from, filters.date_to, timezone.get_current_timezone())
    if start is not None:
        appointments = appointments.filter(start__gte=start)
    if end is not None:
        appointments = appointments.filter(start__lt=end)
    counts = appointments.aggregate(
        # Sessions given: the pump started (a deferred session is attended, not given;
        # docs/clinical-policy.md "Gates along the journey (added 2026-12-03)", item 10).
        given=Count("pk", filter=Q(infusion_session__started_at__isnull=False)),
        no_show=Count("pk", filter=Q(status=AppointmentStatus.NO_SHOW)),
        attended=Count(
            "pk", filter=Q(status__in=[AppointmentStatus.COMPLETED, AppointmentStatus.ARRIVED])
        ),
    )
    events = AdverseEvent.objects.filter(
        session__appointment__in=appointments, session__started_at__isnull=False
    ).count()
    return counts, events


def analytics_compute(*, clinic: Clinic, filters: Filters) -> ClinicAnalytics:
    """The analytics page's numbers, counted now (five queries, none audited: the callers
    audit the read, or draw in advance for nobody)."""
    results = series_results(clinic=clinic, filters=filters)
    by_cause, computed_at = _grouped(results, "cause", UNKNOWN_CAUSE)
    by_protocol, _ = _grouped(results, "protocol", UNKNOWN_PROTOCOL)
    curves = _curves(results)
    counts, events = _appointment_counts(clinic=clinic, filters=filters)
    return ClinicAnalytics(
        filters=filters,
        by_cause=by_cause,
        by_protocol=by_protocol,
        overall=_total(ALL_SERIES, by_cause),
        curves=curves,
        sessions=counts["given"],
        adverse_events=events,
        no_shows=counts["no_show"],
        attended=counts["attended"],
        computed_at=computed_at,
    )


def analytics_cache() -> BaseCache:
    """Where the figures are kept: the drawn charts' cache (settings ``CACHES["charts"]``), so
    that they never push the rate limits out of the default one."""
    return caches["charts"]


def results_generation(clinic: Clinic) -> str:
    """The state of the clinic's stored results: when the refresh last stored any (one query,
    the last entry of an index). Every change the figures count (a score, an appointment's
    status, a session) marks its patient, and the refresh that takes the mark moves this."""
    latest = ResultsMark.objects.filter(clinic=clinic).aggregate(latest=Max("computed_at"))
    return latest["latest"].isoformat() if latest["latest"] is not None else "none"


def analytics_key(clinic: Clinic, filters: Filters, generation: str) -> str:
    location = filters.location.pk if filters.location is not None else ""
    dates = [day.isoformat() if day else "" for day in (filters.date_from, filters.date_to)]
    return f"analytics:{clinic.pk}:{generation}:{location}:{dates[0]}:{dates[1]}"


def clinic_analytics(*, actor: Actor, clinic: Clinic, filters: Filters) -> ClinicAnalytics:
    """The analytics page's numbers, audited as a read: kept ones while the stored results are
    in the same state (two queries and the audit), else counted now and kept."""
    with transaction.atomic():
        generation = results_generation(clinic)
        key = analytics_key(clinic, filters, generation)
        data: ClinicAnalytics | None = analytics_cache().get(key)
        if data is None:
            data = analytics_compute(clinic=clinic, filters=filters)
            analytics_cache().set(key, replace(data, filters=Filters()), KEPT_SECONDS)
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="clinic_analytics",
            clinic=clinic,
            detail=_filter_detail(filters),
        )
    # The filters as this request gave them (a kept copy holds none: a location's name may
    # have changed since).
    return replace(data, filters=filters)


def _filter_detail(filters: Filters) -> dict[str, Any]:
    return {
        "date_from": filters.date_from.isoformat() if filters.date_from else "",
        "date_to": filters.date_to.isoformat() if filters.date_to else "",
        "location": filters.location.pk if filters.location else None,
    }


CSV_COLUMNS = (
    "series",
    "location",
    "first_session",
    "last_session",
    "sessions",
    "cause",
    "protocol",
    "baseline_nrs",
    "followup_nrs",
    "response",
    "relief_days",
    "relapsed",
)


def analytics_csv(*, actor: Actor, clinic: Clinic, filters: Filters) -> Iterator[str]:
    """One line per series (no names, no record numbers), audited as an export, as lines to
    stream: a chain's clinic has a hundred thousand series, which the worker never holds at
    once (rows come from the database in chunks). The export is audited, with the number of
    series, before the first line; a refresh that lands while the lines stream may add or drop
    a series from the count."""
    results = series_results(clinic=clinic, filters=filters)
    with transaction.atomic():
        count = results.count()
        audit_record(
            actor=actor,
            action=Action.EXPORT,
            object_type="clinic_analytics",
            clinic=clinic,
            detail={**_filter_detail(filters), "series": count},
        )
    rows = (
        # In the order the results were stored: the database reads them as they lie, where an
        # order by date would fetch a chain's rows one by one across the table.
        results.order_by("pk")
        .values_list(
            "location_id",
            "start",
            "end",
            "sessions",
            "cause",
            "protocol",
            "baseline",
            "followup",
            "response",
            "days_of_relief",
            "responded",
            "relapse_date",
        )
        .iterator(chunk_size=2000)
    )
    return _csv_lines(rows)


# Lines handed to the response at a time: each piece costs the server (and the client) a write.
CSV_PIECE_ROWS = 2000


def _csv_lines(rows: Iterator[tuple[Any, ...]]) -> Iterator[str]:
    """The CSV in pieces of ``CSV_PIECE_ROWS`` lines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for number, row in enumerate(rows, start=1):
        location, start, end, sessions, cause, protocol = row[:6]
        baseline, followup, response, days, responded, relapse_date = row[6:]
        writer.writerow(
            [
                number,
                location or "",
                start.isoformat(),
                end.isoformat(),
                sessions,
                cause or UNKNOWN_CAUSE,
                protocol or UNKNOWN_PROTOCOL,
                "" if baseline is None else f"{baseline:.2f}",
                "" if followup is None else f"{followup:.2f}",
                response,
                "" if days is None else days,
                ("yes" if relapse_date is not None else "no") if responded else "",
            ]
        )
        if number % CSV_PIECE_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
