"""The web app's reads of job runs: each job's last run by outcome, and the runs of a period.

Both are one grouped query whatever the history's length (``JobRun`` is purged daily, and the
indexes in ``web/models.py`` serve them). They read operational records only: no patient data, so
no audit event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Max

from ketaclinic.web.models import JobOutcome, JobRun


@dataclass(frozen=True)
class LastRuns:
    """When a job's last successful and last failed runs finished (``None``: never, as far as
    the kept history goes)."""

    succeeded: dt.datetime | None = None
    failed: dt.datetime | None = None

    @property
    def last(self) -> dt.datetime | None:
        return max((t for t in (self.succeeded, self.failed) if t is not None), default=None)

    @property
    def last_failed(self) -> bool:
        """Whether the latest finished run failed."""
        return self.failed is not None and (self.succeeded is None or self.failed > self.succeeded)


def job_last_runs(paths: Iterable[str] | None = None) -> dict[str, LastRuns]:
    """Each job's last finished runs, by dotted path: of ``paths``, or of every job with a
    recorded run. One query."""
    rows = JobRun.objects.filter(outcome__in=[JobOutcome.SUCCEEDED, JobOutcome.FAILED])
    if paths is not None:
        rows = rows.filter(task_path__in=list(paths))
    found: dict[str, dict[str, dt.datetime]] = {}
    for row in rows.values("task_path", "outcome").annotate(last=Max("finished_at")).order_by():
        found.setdefault(row["task_path"], {})[row["outcome"]] = row["last"]
    return {
        path: LastRuns(
            succeeded=by_outcome.get(JobOutcome.SUCCEEDED),
            failed=by_outcome.get(JobOutcome.FAILED),
        )
        for path, by_outcome in found.items()
    }


def job_run_counts(*, since: dt.datetime) -> dict[tuple[str, str], int]:
    """The runs started since ``since``, by (dotted path, outcome). One query."""
    rows = (
        JobRun.objects.filter(started_at__gte=since)
        .values("task_path", "outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {(row["task_path"], row["outcome"]): row["n"] for row in rows}
