"""The outcomes app's public face: the patient's infusion series and the stored series results.

Other apps import this module (and the app's models) only; `tests/test_public_faces.py` checks
it. Names are re-exported from where they are written."""

from __future__ import annotations

from ketaclinic.outcomes.boosters.selectors import boosters_to_review
from ketaclinic.outcomes.boosters.services import (
    booster_suggestion_decline,
    booster_suggestions_refresh,
)
from ketaclinic.outcomes.diary.services import diary_entry_record
from ketaclinic.outcomes.durability.services import series_results_refresh
from ketaclinic.outcomes.selectors import DiaryDue, diary_due, finished_series_ends
from ketaclinic.outcomes.signals import results_refreshed
from ketaclinic.outcomes.timing import local_date_of, local_today, patient_zone

__all__ = [
    "DiaryDue",
    "booster_suggestion_decline",
    "booster_suggestions_refresh",
    "boosters_to_review",
    "diary_due",
    "diary_entry_record",
    "finished_series_ends",
    "local_date_of",
    "local_today",
    "patient_zone",
    "results_refreshed",
    "series_results_refresh",
]
