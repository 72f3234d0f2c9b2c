"""Clinic outcome analytics: responder rates, durability curves, adverse events and no-shows.

The database does the work. One SQL statement (common table expressions, a window function and
aggregates; the same text on SQLite and PostgreSQL apart from date arithmetic) returns one row per
induction series with the sums and counts it needs: the baseline (diary NRS of the 7 days before
the first completed session, else the intake NRS), weekly diary sums after the series, the first
responding week and the first relapse week. Python then handles one row per series, never a diary
entry, so the page costs the same few queries for 30 patients or 100,000.

Definitions (the clinic-level reading of CLINICAL.md "Outcomes" at weekly resolution):

- a series is judged on the diary after its last completed session and before the patient's next
  series; days are UTC calendar days of the session start;
- week k after the series is days end+7(k-1)+1 .. end+7k; a week counts when it has at least 4
  diary entries (the durability rule's minimum), and its mean is the mean of those entries;
- follow-up = the mean of week 1; the response class is ``clinical.outcomes.classify_response``
  (baseline, follow-up); a responder has a reduction of at least 30% (moderate or substantial);
- relief starts with the first week whose mean is at most 70% of the baseline, and ends with the
  first later week above it (relapse, an event at that week); without a relapse the series is
  censored at its last counted week. Series without relief are not in the survival curves, as
  in ``clinical.outcomes.durability``.

Threshold comparisons are made on integer sums (10 x week sum x baseline count against
7 x baseline sum x week count), so no floating-point rounding decides a borderline case.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import Count, Q

from ketaclinic.audit.models import Action
from ketaclinic.audit.services import Actor, audit_record
from ketaclinic.clinical import outcomes as clinical_outcomes
from ketaclinic.clinics.models import Clinic, Location
from ketaclinic.infusions.models import AdverseEvent
from ketaclinic.scheduling.models import Appointment, AppointmentKind, AppointmentStatus

RESPONDER_CLASSES = frozenset({"substantial", "moderate"})
UNKNOWN_CAUSE = "No cause recorded"
UNKNOWN_PROTOCOL = "No protocol recorded"
AT_RISK_WEEKS = (0, 4, 8, 12, 26, 52)
FOLLOWUP_MIN_ENTRIES = 4


@dataclass(frozen=True)
class Filters:
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    location: Location | None = None


@dataclass(frozen=True)
class SeriesRow:
    """One induction series as the SQL statement returns it."""

    series_id: int
    location_id: int
    start_day: dt.date
    end_day: dt.date
    cause: str
    protocol: str
    baseline_sum: float | None
    baseline_n: int | None
    followup_sum: float | None
    followup_n: int | None
    response_week: int | None
    relapse_week: int | None
    last_week: int | None

    @property
    def baseline(self) -> float | None:
        if self.baseline_sum is None or not self.baseline_n:
            return None
        return self.baseline_sum / self.baseline_n

    @property
    def followup(self) -> float | None:
        if self.followup_sum is None or not self.followup_n:
            return None
        return self.followup_sum / self.followup_n

    @property
    def response(self) -> str | None:
        baseline, followup = self.baseline, self.followup
        if baseline is None or baseline <= 0 or followup is None:
            return None
        return clinical_outcomes.classify_response(baseline, followup)

    @property
    def relieved(self) -> bool:
        return self.response_week is not None

    @property
    def duration_weeks(self) -> int | None:
        """Weeks from the series end to the relapse, or to the last counted week (censored)."""
        if self.response_week is None:
            return None
        return self.relapse_week if self.relapse_week is not None else self.last_week

    @property
    def relapsed(self) -> bool:
        return self.relapse_week is not None


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
    label: str
    timeline: list[float]
    survival: list[float]
    at_risk: list[tuple[int, int]]  # (week, number at risk)
    events: int
    censored: int
    median_weeks: float | None

    def points(self, width: int = 600, height: int = 200, weeks: int = 52) -> str:
        """The step curve as SVG polyline points (x: weeks 0..``weeks``, y: survival 1..0)."""
        coords: list[str] = []
        previous = 1.0
        for time, value in zip(self.timeline, self.survival, strict=True):
            x = min(time, weeks) / weeks * width
            coords.append(f"{x:.1f},{(1 - previous) * height:.1f}")
            coords.append(f"{x:.1f},{(1 - value) * height:.1f}")
            previous = value
        coords.append(f"{width:.1f},{(1 - previous) * height:.1f}")
        return " ".join(coords)


@dataclass
class ClinicAnalytics:
    filters: Filters
    rows: list[SeriesRow]
    by_cause: list[RateRow]
    by_protocol: list[RateRow]
    overall: RateRow
    curves: list[Curve]
    sessions: int
    adverse_events: int
    no_shows: int
    attended: int
    at_risk_weeks: Sequence[int] = field(default=AT_RISK_WEEKS)

    @property
    def adverse_events_per_100(self) -> float | None:
        return None if self.sessions == 0 else 100.0 * self.adverse_events / self.sessions

    @property
    def no_show_rate(self) -> float | None:
        total = self.no_shows + self.attended
        return None if total == 0 else self.no_shows / total


def _date_sql() -> tuple[str, str, str]:
    """(UTC day of a timestamp, date minus 7 days, whole days from b to a) per database."""
    if connection.vendor == "postgresql":
        return (
            "(({col}) AT TIME ZONE 'UTC')::date",
            "(({col}) - 7)",
            "(({a}) - ({b}))",
        )
    return (
        "DATE({col})",
        "DATE({col}, '-7 days')",
        "CAST(julianday({a}) - julianday({b}) AS INTEGER)",
    )


def _series_sql(filters: Filters) -> tuple[str, list[Any]]:
    day, minus7, days_between = _date_sql()
    start = day.format(col="a.start")
    week = f"(({days_between.format(a='d.entry_date', b='w.end_day')} - 1) / 7 + 1)"
    params: list[Any] = []
    location_sql = ""
    if filters.location is not None:
        location_sql = "AND ser.location_id = %s"
        params.append(filters.location.pk)
    range_sql = ""
    if filters.date_from is not None:
        range_sql += " AND w.start_day >= %s"
    if filters.date_to is not None:
        range_sql += " AND w.start_day <= %s"
    # Only fixed fragments of this module are interpolated; every value is a ``%s`` parameter.
    sql = f"""
WITH s AS (
    SELECT ser.id AS series_id, ser.patient_id, ser.location_id, ser.plan_id,
           MIN({start}) AS start_day, MAX({start}) AS end_day
    FROM scheduling_inductionseries ser
    JOIN scheduling_appointment a ON a.series_id = ser.id AND a.status = 'completed'
    WHERE ser.clinic_id = %s AND ser.status = 'booked' {location_sql}
    GROUP BY ser.id, ser.patient_id, ser.location_id, ser.plan_id
),
w AS (
    SELECT s.*, LEAD(s.start_day) OVER (
        PARTITION BY s.patient_id ORDER BY s.start_day, s.series_id
    ) AS next_start
    FROM s
),
b AS (
    SELECT w.series_id, SUM(d.score) AS b_sum, COUNT(*) AS b_n
    FROM w JOIN outcomes_diaryentry d
      ON d.patient_id = w.patient_id AND d.instrument = 'nrs'
     AND d.entry_date >= {minus7.format(col="w.start_day")} AND d.entry_date < w.start_day
    GROUP BY w.series_id
),
bl AS (
    SELECT w.series_id,
           COALESCE(b.b_sum, (
               SELECT c.pain_nrs FROM assessments_consultation c
               WHERE c.patient_id = w.patient_id AND c.pain_nrs IS NOT NULL
                 AND c.exam_date <= w.start_day
               ORDER BY c.exam_date DESC, c.id DESC LIMIT 1
           )) AS b_sum,
           COALESCE(b.b_n, 1) AS b_n
    FROM w LEFT JOIN b ON b.series_id = w.series_id
),
wk AS (
    SELECT w.series_id, {week} AS week, SUM(d.score) AS w_sum, COUNT(*) AS w_n
    FROM w JOIN outcomes_diaryentry d
      ON d.patient_id = w.patient_id AND d.instrument = 'nrs'
     AND d.entry_date > w.end_day AND (w.next_start IS NULL OR d.entry_date < w.next_start)
    GROUP BY w.series_id, {week}
    HAVING COUNT(*) >= {FOLLOWUP_MIN_ENTRIES}
),
judged AS (
    SELECT wk.series_id, wk.week,
           CASE WHEN 10 * wk.w_sum * bl.b_n <= 7 * bl.b_sum * wk.w_n THEN 1 ELSE 0 END AS relief
    FROM wk JOIN bl ON bl.series_id = wk.series_id
    WHERE bl.b_sum IS NOT NULL AND bl.b_sum > 0
),
resp AS (
    SELECT series_id, MIN(week) AS response_week FROM judged WHERE relief = 1 GROUP BY series_id
),
rel AS (
    SELECT j.series_id, MIN(j.week) AS relapse_week
    FROM judged j JOIN resp r ON r.series_id = j.series_id
    WHERE j.relief = 0 AND j.week > r.response_week
    GROUP BY j.series_id
),
lst AS (SELECT series_id, MAX(week) AS last_week FROM wk GROUP BY series_id)
SELECT w.series_id, w.location_id, w.start_day, w.end_day,
       (SELECT MIN(ca.display) FROM assessments_cause ca
          JOIN assessments_consultation c ON c.id = ca.consultation_id
         WHERE c.patient_id = w.patient_id) AS cause,
       (SELECT kp.template_name FROM plans_ketamineprotocol kp WHERE kp.plan_id = w.plan_id)
           AS protocol,
       bl.b_sum, bl.b_n, f1.w_sum, f1.w_n, resp.response_week, rel.relapse_week, lst.last_week
FROM w
JOIN bl ON bl.series_id = w.series_id
LEFT JOIN wk f1 ON f1.series_id = w.series_id AND f1.week = 1
LEFT JOIN resp ON resp.series_id = w.series_id
LEFT JOIN rel ON rel.series_id = w.series_id
LEFT JOIN lst ON lst.series_id = w.series_id
WHERE 1 = 1 {range_sql}
ORDER BY w.start_day, w.series_id
"""  # noqa: S608
    return sql, params


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def series_rows(*, clinic: Clinic, filters: Filters) -> list[SeriesRow]:
    """Every booked series of the clinic with at least one completed session (one query)."""
    sql, location_params = _series_sql(filters)
    params: list[Any] = [clinic.pk, *location_params]
    if filters.date_from is not None:
        params.append(filters.date_from.isoformat())
    if filters.date_to is not None:
        params.append(filters.date_to.isoformat())
    if connection.vendor == "postgresql":
        params = [dt.date.fromisoformat(p) if isinstance(p, str) else p for p in params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        raw = cursor.fetchall()
    return [
        SeriesRow(
            series_id=r[0],
            location_id=r[1],
            start_day=_as_date(r[2]),
            end_day=_as_date(r[3]),
            cause=r[4] or UNKNOWN_CAUSE,
            protocol=r[5] or UNKNOWN_PROTOCOL,
            baseline_sum=None if r[6] is None else float(r[6]),
            baseline_n=None if r[7] is None else int(r[7]),
            followup_sum=None if r[8] is None else float(r[8]),
            followup_n=None if r[9] is None else int(r[9]),
            response_week=None if r[10] is None else int(r[10]),
            relapse_week=None if r[11] is None else int(r[11]),
            last_week=None if r[12] is None else int(r[12]),
        )
        for r in raw
    ]


def _rates(label: str, rows: Iterable[SeriesRow]) -> RateRow:
    series = judged = responders = 0
    for row in rows:
        series += 1
        response = row.response
        if response is not None:
            judged += 1
            responders += response in RESPONDER_CLASSES
    return RateRow(label=label, series=series, judged=judged, responders=responders)


def _grouped(rows: list[SeriesRow], key: str) -> list[RateRow]:
    groups: dict[str, list[SeriesRow]] = defaultdict(list)
    for row in rows:
        groups[getattr(row, key)].append(row)
    return [_rates(label, groups[label]) for label in sorted(groups)]


def kaplan_meier(label: str, rows: Iterable[SeriesRow]) -> Curve | None:
    """The lifelines Kaplan-Meier estimate of relief duration (weeks) of the relieved series."""
    relieved = [row for row in rows if row.duration_weeks is not None]
    if not relieved:
        return None
    from lifelines import KaplanMeierFitter  # imported here: lifelines is slow to import

    durations = np.array([row.duration_weeks for row in relieved], dtype=float)
    observed = np.array([row.relapsed for row in relieved], dtype=bool)
    fitter = KaplanMeierFitter(label=label).fit(durations, event_observed=observed)
    survival = fitter.survival_function_
    median = float(fitter.median_survival_time_)
    return Curve(
        label=label,
        timeline=[float(t) for t in survival.index],
        survival=[float(v) for v in survival.iloc[:, 0]],
        # At risk at week t: series whose relief was still being followed at t.
        at_risk=[(week, int((durations >= week).sum())) for week in AT_RISK_WEEKS],
        events=int(observed.sum()),
        censored=int((~observed).sum()),
        median_weeks=median if np.isfinite(median) else None,
    )


def _appointment_counts(*, clinic: Clinic, filters: Filters) -> tuple[dict[str, int], int]:
    appointments = Appointment.objects.filter(clinic=clinic, type__kind=AppointmentKind.INFUSION)
    if filters.location is not None:
        appointments = appointments.filter(location=filters.location)
    if filters.date_from is not None:
        appointments = appointments.filter(start__date__gte=filters.date_from)
    if filters.date_to is not None:
        appointments = appointments.filter(start__date__lte=filters.date_to)
    counts = appointments.aggregate(
        completed=Count("pk", filter=Q(status=AppointmentStatus.COMPLETED)),
        no_show=Count("pk", filter=Q(status=AppointmentStatus.NO_SHOW)),
        attended=Count(
            "pk", filter=Q(status__in=[AppointmentStatus.COMPLETED, AppointmentStatus.ARRIVED])
        ),
    )
    events = AdverseEvent.objects.filter(
        session__appointment__in=appointments.filter(status=AppointmentStatus.COMPLETED)
    ).count()
    return counts, events


def clinic_analytics(*, actor: Actor, clinic: Clinic, filters: Filters) -> ClinicAnalytics:
    """The analytics page's numbers (a fixed number of queries), audited as a read."""
    with transaction.atomic():
        rows = series_rows(clinic=clinic, filters=filters)
        counts, events = _appointment_counts(clinic=clinic, filters=filters)
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="clinic_analytics",
            clinic=clinic,
            detail=_filter_detail(filters),
        )
    curves = [curve for curve in [kaplan_meier("All series", rows)] if curve is not None]
    by_cause: dict[str, list[SeriesRow]] = defaultdict(list)
    for row in rows:
        by_cause[row.cause].append(row)
    curves += [
        curve for label in sorted(by_cause) if (curve := kaplan_meier(label, by_cause[label]))
    ]
    return ClinicAnalytics(
        filters=filters,
        rows=rows,
        by_cause=_grouped(rows, "cause"),
        by_protocol=_grouped(rows, "protocol"),
        overall=_rates("All series", rows),
        curves=curves,
        sessions=counts["completed"],
        adverse_events=events,
        no_shows=counts["no_show"],
        attended=counts["attended"],
    )


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
    "cause",
    "protocol",
    "baseline_nrs",
    "followup_nrs",
    "response",
    "relief_weeks",
    "relapsed",
)


def analytics_csv(*, actor: Actor, clinic: Clinic, filters: Filters) -> str:
    """One line per series (no names, no record numbers), audited as an export."""
    with transaction.atomic():
        rows = series_rows(clinic=clinic, filters=filters)
        audit_record(
            actor=actor,
            action=Action.EXPORT,
            object_type="clinic_analytics",
            clinic=clinic,
            detail={**_filter_detail(filters), "series": len(rows)},
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for number, row in enumerate(rows, start=1):
        baseline, followup = row.baseline, row.followup
        writer.writerow(
            [
                number,
                row.location_id,
                row.start_day.isoformat(),
                row.end_day.isoformat(),
                row.cause,
                row.protocol,
                "" if baseline is None else f"{baseline:.2f}",
                "" if followup is None else f"{followup:.2f}",
                row.response or "",
                "" if row.duration_weeks is None else row.duration_weeks,
                "yes" if row.relapsed else ("no" if row.relieved else ""),
            ]
        )
    return buffer.getvalue()
