"""Background jobs of the pain diary, run by ``ketaclinic worker``: the reminder dispatcher and the
daily purge of spent diary links.

Both are periodic: registered with their intervals in ``lib.tasks.PERIODIC_JOBS``, started by the
worker, and each run enqueues its successor first (``periodic_continue``). This module wraps the
diary's services and links; nothing imports it back.
"""

from __future__ import annotations

import datetime as dt

from django_tasks import task

from ketaclinic.lib.tasks import ALREADY_RUN, periodic_continue
from ketaclinic.outcomes.diary.links import diary_links_purge, link_retention_days
from ketaclinic.outcomes.diary.services import diary_reminders_send


@task()
def diary_reminders_dispatch() -> str:
    """Send the diary reminders that are due (at most once each; see reminders._claim)."""
    if not periodic_continue(diary_reminders_dispatch):
        return ALREADY_RUN
    return f"sent {diary_reminders_send()}"


@task()
def diary_link_purge() -> str:
    """Delete diary links used or expired more than the retention period ago; daily."""
    if not periodic_continue(diary_link_purge):
        return ALREADY_RUN
    deleted = diary_links_purge(older_than=dt.timedelta(days=link_retention_days()))
    return f"deleted {deleted}"
