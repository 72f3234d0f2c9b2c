"""Writes of the analytics app: its kept figures, drawn in advance by the worker."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from ketaclinic.analytics.selectors import (
    KEPT_SECONDS,
    Filters,
    analytics_cache,
    analytics_compute,
    analytics_key,
    results_generation,
)
from ketaclinic.clinics.models import Clinic


def analytics_warm(*, clinic: Clinic) -> None:
    """Count the clinic's unfiltered figures for the stored results as they are now, and keep
    them, so the next person to open the page reads them at once. The state is read first, so
    the figures kept under it are never older than it (a refresh that commits in between only
    makes them newer, and moves the state for the next read)."""
    with transaction.atomic():
        generation = results_generation(clinic)
        data = analytics_compute(clinic=clinic, filters=Filters())
    analytics_cache().set(analytics_key(clinic, Filters(), generation), data, KEPT_SECONDS)


def results_refreshed_receiver(sender: object, clinic: Clinic, **kwargs: Any) -> None:
    """``outcomes.signals.results_refreshed``: draw the page's figures for the new state."""
    analytics_warm(clinic=clinic)
