"""Background job of the booster loop, run by ``ketaclinic worker``: the periodic refresh of
what changed (``lib.tasks.BOOSTER_REFRESH_EVERY``).

A periodic job: registered with its interval in ``lib.tasks.PERIODIC_JOBS``, started by the worker,
and each run enqueues its successor first (``periodic_continue``). It wraps services and nothing
imports it back. Each run costs what changed since the last one (the marked patients, the
sessions whose day passed), not the clinics' size, so it runs often: a relapse completed by
today's score reaches the physician's queue within minutes.
"""

from __future__ import annotations

import logging

from django_tasks import task

from ketaclinic.clinics.models import Clinic
from ketaclinic.lib.tasks import ALREADY_RUN, periodic_continue
from ketaclinic.outcomes.boosters.services import outcomes_refresh_changed
from ketaclinic.outcomes.signals import results_refreshed

logger = logging.getLogger(__name__)


@task()
def booster_suggestions_refresh_all() -> str:
    """Flag relapses as booster suggestions and recompute the stored series results the
    analytics read, for the patients of every clinic whose results may have changed."""
    if not periodic_continue(booster_suggestions_refresh_all):
        return ALREADY_RUN
    created = stored = patients = 0
    for clinic in Clinic.objects.order_by("pk"):
        counted = outcomes_refresh_changed(clinic=clinic)
        if counted.patients:
            # A receiver's failure (the analytics' drawing) must not fail the refresh itself.
            for receiver, error in results_refreshed.send_robust(sender=None, clinic=clinic):
                if isinstance(error, Exception):
                    logger.error("results_refreshed receiver %r failed", receiver, exc_info=error)
        created += counted.created
        stored += counted.series
        patients += counted.patients
    return f"created {created}, stored {stored} series results of {patients} patients"
