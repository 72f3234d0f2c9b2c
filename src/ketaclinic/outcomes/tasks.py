"""Background jobs of the pain diary, run by ``ketaclinic db_worker``.

Periodic work follows ``ketaclinic.scheduling.tasks``: each run enqueues its successor first
(``periodic_enqueue``, idempotent, so starting a chain twice or running two workers never leaves
more than one run waiting), and the chain is started on commit by whatever needs it: saving a
reminder schedule starts the reminder dispatcher, issuing a link starts the link purge.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django_tasks import task

from ketaclinic.lib.tasks import PURGE_EVERY, periodic_enqueue
from ketaclinic.outcomes import links, services

# Reminders go out within this long after their time of day.
DISPATCH_EVERY = dt.timedelta(minutes=5)
DEFAULT_LINK_RETENTION_DAYS = 30


@task()
def diary_reminders_dispatch() -> str:
    """Send the diary reminders that are due (at most once each; see services._claim)."""
    periodic_enqueue(diary_reminders_dispatch, every=DISPATCH_EVERY)
    return f"sent {services.diary_reminders_send()}"


def diary_reminders_schedule() -> bool:
    """Start the reminder dispatcher if it is not already waiting (safe to call at any time)."""
    return periodic_enqueue(diary_reminders_dispatch, every=DISPATCH_EVERY)


def link_retention_days() -> int:
    return int(getattr(settings, "DIARY_LINK_RETENTION_DAYS", DEFAULT_LINK_RETENTION_DAYS))


@task()
def diary_link_purge() -> str:
    """Delete diary links used or expired more than the retention period ago; daily."""
    periodic_enqueue(diary_link_purge, every=PURGE_EVERY)
    deleted = links.diary_links_purge(older_than=dt.timedelta(days=link_retention_days()))
    return f"deleted {deleted}"


def diary_link_purge_schedule() -> bool:
    """Start the daily link purge if it is not already waiting (safe to call at any time)."""
    return periodic_enqueue(diary_link_purge, every=PURGE_EVERY)


BOOSTER_REFRESH_EVERY = dt.timedelta(hours=6)


@task()
def booster_suggestions_refresh_all() -> str:
    """Flag relapses as booster suggestions for every clinic (idempotent), and recompute the
    stored series results the analytics read (days pass, sessions complete); every 6 hours."""
    from ketaclinic.clinics.models import Clinic
    from ketaclinic.outcomes.boosters import booster_suggestions_refresh
    from ketaclinic.outcomes.results import series_results_refresh

    periodic_enqueue(booster_suggestions_refresh_all, every=BOOSTER_REFRESH_EVERY)
    created = stored = 0
    for clinic in Clinic.objects.all():
        created += booster_suggestions_refresh(clinic=clinic)
        stored += series_results_refresh(clinic=clinic)
    return f"created {created}, stored {stored} series results"


def booster_refresh_schedule() -> bool:
    """Start the booster refresh chain if it is not already waiting (safe to call any time)."""
    return periodic_enqueue(booster_suggestions_refresh_all, every=BOOSTER_REFRESH_EVERY)


@task()
def letter_generate(letter_id: int) -> str:
    """Draw one progress letter as a PDF."""
    from ketaclinic.outcomes.letters import letter_generate_now

    return str(letter_generate_now(letter_id=letter_id))
