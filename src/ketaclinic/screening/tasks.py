"""Background jobs of the self-check, run by ``ketaclinic worker``: the daily purge, registered
in ``lib.tasks.PERIODIC_JOBS``."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django_tasks import task

from ketaclinic.lib.tasks import ALREADY_RUN, periodic_continue
from ketaclinic.screening.services import selfchecks_purge

DEFAULT_RETENTION_DAYS = 30
"""Days an anonymous self-check is kept for its visitor to book with (setting
``SELFCHECK_RETENTION_DAYS``). Long enough to come back after thinking it over; after that the
answers, which name no one, serve no one."""


def retention_days() -> int:
    return int(getattr(settings, "SELFCHECK_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))


@task()
def selfcheck_purge() -> str:
    """Delete anonymous self-checks older than the retention period; daily.

    Idempotent: a second run finds nothing left to delete. The next run is enqueued first, so a
    failure here does not end the schedule.
    """
    if not periodic_continue(selfcheck_purge):
        return ALREADY_RUN
    deleted = selfchecks_purge(older_than=dt.timedelta(days=retention_days()))
    return f"deleted {deleted}"
