"""The clinic admin's list: settings awaiting a second approval, open invitations, jobs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from ketaclinic.accounts.models import User
from ketaclinic.clinics.api import proposals_waiting, staff_invitations_open
from ketaclinic.web.health import FAILED, LATE, job_states
from ketaclinic.web.worklists.common import (
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
    """Each periodic job of ``lib.tasks.PERIODIC_JOBS``, the worker's heartbeat among them: its
    last run, whether that run failed, and whether it has gone without a success for longer
    than its interval allows (no worker is taking jobs). Read from the record of job runs
    (``web/health.py``, the same rules as ``/readyz``), so it works on any task backend. One
    query, whatever the history's length."""
    return [
        JobHealth(job.path, job.runs.last, job.state == FAILED, job.state == LATE)
        for job in job_states(now)
    ]


def jobs_section(now: dt.datetime) -> Section:
    lines = []
    for job in job_health(now):
        if job.failed:
            detail = f"Last run failed {day_at(job.last_run, 'UTC')}" if job.last_run else "Failed"
        elif job.late:
            detail = "No run for longer than its interval: is the worker running?"
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
