"""The clinic admin's list: settings awaiting a second approval, open invitations, jobs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Max
from django.urls import reverse
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from ketaclinic.accounts.models import User
from ketaclinic.clinics.api import proposals_waiting, staff_invitations_open
from ketaclinic.lib.tasks import PERIODIC_JOBS, WORKER_HEARTBEAT
from ketaclinic.web.worklists.common import (
    WORKER_LATE,
    Line,
    Section,
    day_at,
    read_section,
)

# --- clinic admin ----------------------------------------------------------------------------


def admin_sections(user: User, now: dt.datetime, counts_only: bool) -> list[Section]:
    clinic_id = user.clinic_id
    assert clinic_id is not None

    def proposal(p: Any) -> Line:
        return Line(
            f"Proposed by {p.proposed_by.display_name}",
            reverse("clinics:policy_proposals"),
            f"{p.proposed_at:%-d %b %Y} · waiting for a second physician",
        )

    def invitation(i: Any) -> Line:
        expired = i.expires_at <= now
        return Line(
            i.email,
            reverse("clinics:staff"),
            f"{i.get_role_display()} · {'expired' if expired else 'expires'} "
            f"{i.expires_at:%-d %b %Y}",
            "Expired" if expired else "",
        )

    return [
        read_section(
            "proposals",
            "Settings awaiting a second approval",
            proposals_waiting(clinic_id=clinic_id),
            proposal,
            empty="No settings change is waiting.",
            more_url=reverse("clinics:policy_proposals"),
            counts_only=counts_only,
        ),
        read_section(
            "invitations",
            "Staff invitations not yet accepted",
            staff_invitations_open(clinic_id=clinic_id),
            invitation,
            empty="No invitation is outstanding.",
            more_url=reverse("clinics:staff"),
            counts_only=counts_only,
        ),
        jobs_section(now),
    ]


@dataclass(frozen=True)
class JobHealth:
    path: str
    last_run: dt.datetime | None
    failed: bool
    late: bool

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1].replace("_", " ").capitalize()

    @property
    def state(self) -> str:
        return "Failed" if self.failed else "Late" if self.late else "OK" if self.last_run else ""


def job_health(now: dt.datetime) -> list[JobHealth]:
    """Each periodic job of ``lib.tasks.PERIODIC_JOBS`` and the worker heartbeat: its last run,
    whether that run failed, and whether a run is waiting well past its time (no worker is
    taking jobs). Two queries, whatever the history's length."""
    paths = [*PERIODIC_JOBS, WORKER_HEARTBEAT]
    finished: dict[tuple[str, str], dt.datetime] = {
        (row["task_path"], row["status"]): row["last"]
        for row in DBTaskResult.objects.filter(task_path__in=paths, finished_at__isnull=False)
        .values("task_path", "status")
        .annotate(last=Max("finished_at"))
        .order_by()
    }
    late = set(
        DBTaskResult.objects.filter(
            task_path__in=paths,
            status=TaskResultStatus.READY,
            run_after__lt=now - WORKER_LATE,
        )
        .values_list("task_path", flat=True)
        .distinct()
    )
    rows = []
    for path in paths:
        ok = finished.get((path, TaskResultStatus.SUCCESSFUL))
        failed = finished.get((path, TaskResultStatus.FAILED))
        last = max((t for t in (ok, failed) if t is not None), default=None)
        rows.append(
            JobHealth(path, last, failed is not None and (ok is None or failed > ok), path in late)
        )
    return rows


def jobs_section(now: dt.datetime) -> Section:
    lines = []
    for job in job_health(now):
        if job.failed:
            detail = f"Last run failed {day_at(job.last_run, 'UTC')}" if job.last_run else "Failed"
        elif job.late:
            detail = "A run is waiting past its time: is the worker running?"
        elif job.last_run is not None:
            detail = f"Last run {day_at(job.last_run, 'UTC')}"
        else:
            detail = "Not run yet"
        lines.append(Line(job.name, "", detail, job.state))
    unhealthy = sum(1 for line in lines if line.state in ("Failed", "Late"))
    return Section(
        "jobs",
        "Background jobs",
        lines,
        len(lines),
        empty="",
        counted=unhealthy,
    )
