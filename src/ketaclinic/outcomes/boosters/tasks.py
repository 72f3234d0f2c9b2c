"""Background job of the booster loop, run by ``ketaclinic worker``: the 6-hourly refresh.

A periodic job: registered with its interval in ``lib.tasks.PERIODIC_JOBS``, started by the worker,
and each run enqueues its successor first (``periodic_continue``). It wraps services and nothing
imports it back.
"""

from __future__ import annotations

from django_tasks import task

from ketaclinic.clinics.models import Clinic
from ketaclinic.lib.tasks import periodic_continue
from ketaclinic.outcomes.boosters.services import booster_suggestions_refresh
from ketaclinic.outcomes.durability.services import series_results_refresh


@task()
def booster_suggestions_refresh_all() -> str:
    """Flag relapses as booster suggestions for every clinic (idempotent), and recompute the
    stored series results the analytics read (days pass, sessions complete); every 6 hours."""
    periodic_continue(booster_suggestions_refresh_all)
    created = stored = 0
    for clinic in Clinic.objects.all():
        created += booster_suggestions_refresh(clinic=clinic)
        stored += series_results_refresh(clinic=clinic)
    return f"created {created}, stored {stored} series results"
