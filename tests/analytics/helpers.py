"""Seeded data and an independent (pandas + lifelines) computation of the analytics numbers."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pandas as pd
from django.db.models import F

from bench.analyst import analyst_series
from bench.analyst import kaplan_meier as analyst_km
from ketaclinic.clinics.models import Clinic
from ketaclinic.devdata.seeding import SeedSummary, seed_clinic
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.outcomes.models import DiaryEntry

TODAY = dt.date(2026, 6, 1)


def seed(clinic: Clinic, patients: int, *, seed: int = 7, years: float = 1.0) -> SeedSummary:
    return seed_clinic(clinic=clinic, patients=patients, years=years, seed=seed, today=TODAY)


def independent_series(clinic: Clinic, today: dt.date = TODAY) -> pd.DataFrame:
    """Per series: baseline, response and relief duration from the raw rows with pandas alone
    (``bench.analyst``, the analyst's path, which calls nothing of ``ketaclinic.clinical``)."""
    from ketaclinic.assessments.models import Consultation

    # Given sessions only: those whose pump started (deferred and missed ones never count).
    given = InfusionSession.objects.filter(
        clinic=clinic, appointment__series__isnull=False, started_at__isnull=False
    )
    sessions = pd.DataFrame.from_records(
        given.values(
            "patient_id",
            series_id=F("appointment__series_id"),
            start=F("started_at"),
            zone=F("location__time_zone"),
        )
    )
    sessions["day"] = [
        pd.Timestamp(start.astimezone(zoneinfo.ZoneInfo(zone)).date())
        for start, zone in zip(sessions["start"], sessions["zone"], strict=True)
    ]
    diary = pd.DataFrame.from_records(
        DiaryEntry.objects.filter(clinic=clinic, instrument="nrs").values(
            "patient_id", "entry_date", "score"
        )
    )
    diary["entry_date"] = pd.to_datetime(diary["entry_date"])
    intake = pd.DataFrame.from_records(
        Consultation.objects.filter(clinic=clinic, pain_nrs__isnull=False).values(
            "patient_id", "exam_date", "pain_nrs"
        )
    )
    intake["exam_date"] = pd.to_datetime(intake["exam_date"])
    return analyst_series(diary, sessions[["patient_id", "series_id", "day"]], intake, today)


__all__ = ["TODAY", "analyst_km", "independent_series", "seed"]
