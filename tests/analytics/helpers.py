"""Seeded data and an independent (pandas + lifelines) computation of the analytics numbers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from ketaclinic.analytics.seeding import SeedSummary, seed_clinic
from ketaclinic.clinical.outcomes import classify_response
from ketaclinic.clinics.models import Clinic
from ketaclinic.outcomes.models import DiaryEntry
from ketaclinic.scheduling.models import Appointment

TODAY = dt.date(2026, 6, 1)


def seed(clinic: Clinic, patients: int, *, seed: int = 7, years: float = 1.0) -> SeedSummary:
    return seed_clinic(clinic=clinic, patients=patients, years=years, seed=seed, today=TODAY)


def independent_series(clinic: Clinic) -> pd.DataFrame:
    """Per series: baseline, follow-up, response and relief duration, from the raw rows with
    pandas (the analyst's path: export everything, then compute)."""
    appts = pd.DataFrame.from_records(
        Appointment.objects.filter(clinic=clinic, series__isnull=False, status="completed").values(
            "series_id", "patient_id", "start"
        )
    )
    appts["day"] = pd.to_datetime(appts["start"], utc=True).dt.tz_convert("UTC").dt.date
    series = appts.groupby(["series_id", "patient_id"])["day"].agg(["min", "max"]).reset_index()
    series = series.sort_values(["patient_id", "min", "series_id"])
    series["next_start"] = series.groupby("patient_id")["min"].shift(-1)
    diary = pd.DataFrame.from_records(
        DiaryEntry.objects.filter(clinic=clinic, instrument="nrs").values(
            "patient_id", "entry_date", "score"
        )
    )
    by_patient = dict(iter(diary.groupby("patient_id")))
    from ketaclinic.assessments.models import Consultation

    intake = dict(Consultation.objects.filter(clinic=clinic).values_list("patient_id", "pain_nrs"))
    out: list[dict[str, Any]] = []
    for row in series.itertuples():
        frame = by_patient.get(row.patient_id, diary.iloc[0:0])
        start, end = row.min, row.max
        before = frame[
            (frame.entry_date >= start - dt.timedelta(days=7)) & (frame.entry_date < start)
        ]
        baseline = before.score.mean() if len(before) else float(intake[row.patient_id] or 0)
        after = frame[frame.entry_date > end]
        if row.next_start is not None and not pd.isna(row.next_start):
            after = after[after.entry_date < row.next_start]
        weeks = (
            after.assign(week=[((d - end).days - 1) // 7 + 1 for d in after.entry_date])
            .groupby("week")["score"]
            .agg(["mean", "count"])
        )
        weeks = weeks[weeks["count"] >= 4]
        followup = weeks["mean"].get(1)
        response = None if followup is None else classify_response(baseline, followup)
        relief = weeks.index[weeks["mean"] <= 0.7 * baseline + 1e-12]
        duration = event = None
        if len(relief):
            later = weeks[(weeks.index > relief[0]) & (weeks["mean"] > 0.7 * baseline + 1e-12)]
            event = bool(len(later))
            duration = int(later.index[0]) if event else int(weeks.index.max())
        out.append(
            {
                "series_id": row.series_id,
                "baseline": baseline,
                "followup": followup,
                "response": response,
                "duration": duration,
                "event": event,
            }
        )
    return pd.DataFrame(out)


def km(frame: pd.DataFrame) -> Any:
    from lifelines import KaplanMeierFitter

    relieved = frame[frame["duration"].notna()]
    return KaplanMeierFitter().fit(
        relieved["duration"].astype(float).to_numpy(),
        event_observed=relieved["event"].astype(bool).to_numpy(),
    )


__all__ = ["TODAY", "independent_series", "km", "np", "seed"]
