"""The analyst's path: the clinic's outcome numbers from raw exports, with pandas alone.

What an analyst would do without the analytics page: export the diary, the infusion sessions and
the intake scores, then compute each series' baseline, follow-up, response and relief duration
with vectorised pandas, and fit lifelines. It implements the published rule
(docs/design.md "Clinical core contract", docs/clinical-policy.md "Outcomes [6.1]") independently
of ``ketaclinic.clinical``: no function of the package is called, so the tests can use it as an
independent check of the stored results and the benchmark as the path the page is compared
against.

Exactness: diary scores are whole numbers and the baseline is recorded to hundredths
(``clinical.outcomes.recorded_baseline``), so every threshold is compared on integers
(e.g. window mean <= 0.7 x baseline  <=>  1000 x window sum <= 7 x baseline hundredths x days).

Inputs (DataFrames):

- ``diary``: patient_id, entry_date (datetime64), score (the daily NRS);
- ``sessions``: patient_id, series_id, day (datetime64; the location's calendar day) of every
  infusion session of a series that was given (its pump started; deferred, missed and cancelled
  sessions never count), and of those still booked after ``today`` if any;
- ``intake``: patient_id, exam_date (datetime64), pain_nrs of the signed consultations.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

WINDOW_DAYS = 7
MIN_DAYS_IN_WINDOW = 4
RUN_DAYS = 3
FOLLOWUP_MIN_DAYS = 4


def _response(c: pd.Series, f_sum: pd.Series, f_n: pd.Series) -> pd.Series:
    """IMMPACT class of follow-up mean f_sum/f_n against baseline c/100, on integers."""
    conditions = [
        200 * f_sum <= c * f_n,  # at least 50% less
        1000 * f_sum <= 7 * c * f_n,  # at least 30%
        1000 * f_sum <= 9 * c * f_n,  # at least 10%
        100 * f_sum <= c * f_n,  # no worse
    ]
    classes = ["substantial", "moderate", "minimal", "none"]
    return pd.Series(np.select(conditions, classes, default="worse"), index=c.index)


def analyst_series(
    diary: pd.DataFrame, sessions: pd.DataFrame, intake: pd.DataFrame, today: Any
) -> pd.DataFrame:
    """One row per series with sessions given by ``today``, indexed by series_id: patient_id,
    start, end, baseline (hundredths, or NaN), response (or None), responded, days, relapsed."""
    today = pd.Timestamp(today)
    ongoing = sessions.groupby("series_id")["day"].max() > today
    given = sessions[sessions["day"] <= today]
    series = given.groupby(["series_id", "patient_id"])["day"].agg(["min", "max"]).reset_index()
    series = series.rename(columns={"min": "start", "max": "end"})
    series["ongoing"] = series["series_id"].map(ongoing).fillna(False).astype(bool)
    series = series.sort_values(["patient_id", "start", "series_id"])
    series["next_start"] = series.groupby("patient_id")["start"].shift(-1)

    # Baseline: mean daily NRS of the 7 days before the patient's first infusion, else the
    # latest intake NRS on or before it; in hundredths, rounded half up.
    first = series.groupby("patient_id")["start"].min().rename("first").reset_index()
    pre = diary.merge(first, on="patient_id")
    pre = pre[
        (pre.entry_date >= pre["first"] - pd.Timedelta(days=WINDOW_DAYS))
        & (pre.entry_date < pre["first"])
    ]
    pre_sums = pre.groupby("patient_id")["score"].agg(["sum", "count"])
    from_diary = (200 * pre_sums["sum"] + pre_sums["count"]) // (2 * pre_sums["count"])
    intakes = intake.merge(first, on="patient_id")
    intakes = intakes[intakes.exam_date <= intakes["first"]].sort_values(
        ["patient_id", "exam_date"]
    )
    latest = intakes.groupby("patient_id")["pain_nrs"].last()
    from_intake = np.floor(latest.astype(float) * 100 + 0.5)
    baseline = from_diary.astype(float).combine_first(from_intake)
    series["c"] = series["patient_id"].map(baseline)
    judged = series[~series["ongoing"] & (series["c"] > 0)].copy()

    # The diary of each judged series: from its last session to before the next series.
    after = diary.merge(judged[["series_id", "patient_id", "end", "next_start", "c"]])
    after = after[
        (after.entry_date >= after["end"])
        & (after["next_start"].isna() | (after.entry_date < after["next_start"]))
    ]
    after["k"] = (after.entry_date - after["end"]).dt.days.astype(np.int64)
    after["score"] = after["score"].astype(np.int64)

    # Follow-up: days 1..7 after the series, at least 4 of them.
    week = after[(after["k"] >= 1) & (after["k"] <= WINDOW_DAYS)]
    follow = week.groupby("series_id")["score"].agg(["sum", "count"])
    follow = follow[follow["count"] >= FOLLOWUP_MIN_DAYS]
    judged = judged.set_index("series_id")
    judged["response"] = None
    has = judged.index.intersection(follow.index)
    judged.loc[has, "response"] = _response(
        judged.loc[has, "c"], follow.loc[has, "sum"], follow.loc[has, "count"]
    )

    # Window sums change only where a day enters (k) or leaves (k + 7) the window: between two
    # such breakpoints every day has the same window mean. Each series becomes a list of
    # segments [k, next breakpoint) with their window sum and count.
    last = after.groupby("series_id")["k"].max().rename("last")
    enter = after[["series_id", "k", "score"]].assign(n=1)
    leave = enter.assign(k=enter["k"] + WINDOW_DAYS, score=-enter["score"], n=-1)
    events = pd.concat([enter, leave]).merge(last, left_on="series_id", right_index=True)
    events = events[events["k"] <= events["last"]]
    seg = events.groupby(["series_id", "k"], sort=True)[["score", "n"]].sum().reset_index()
    seg[["wsum", "wn"]] = seg.groupby("series_id")[["score", "n"]].cumsum()
    seg = seg.merge(last, left_on="series_id", right_index=True)
    seg["c"] = seg["series_id"].map(judged["c"])
    seg["length"] = seg.groupby("series_id")["k"].shift(-1).fillna(seg["last"] + 1) - seg["k"]
    defined = seg["wn"] >= MIN_DAYS_IN_WINDOW
    relief = defined & (1000 * seg["wsum"] <= 7 * seg["c"] * seg["wn"])
    seg["above"] = defined & ~relief
    response_k = seg[relief].groupby("series_id")["k"].min().rename("response_k")
    seg = seg.merge(response_k, left_on="series_id", right_index=True)
    # Runs of consecutive days above the threshold after the response: an island is a stretch
    # of "above" segments between two segments that are not.
    seg = seg[seg["k"] > seg["response_k"]].copy()
    seg["island"] = (~seg["above"]).groupby(seg["series_id"]).cumsum()
    runs = (
        seg[seg["above"]]
        .groupby(["series_id", "island"])
        .agg(run_start=("k", "min"), run_length=("length", "sum"))
    )
    relapse = (runs[runs["run_length"] >= RUN_DAYS].groupby("series_id")["run_start"].min()).rename(
        "relapse_k"
    )

    judged["responded"] = judged.index.isin(response_k.index)
    judged["relapsed"] = judged.index.isin(relapse.index)
    judged["days"] = np.where(
        judged["relapsed"],
        relapse.reindex(judged.index),
        last.reindex(judged.index),
    )
    judged.loc[~judged["responded"], "days"] = np.nan
    return judged[["patient_id", "start", "end", "c", "response", "responded", "days", "relapsed"]]


def kaplan_meier(frame: pd.DataFrame) -> tuple[list[float], list[float]]:
    """lifelines' estimate of relief duration (days) over the relieved series."""
    from lifelines import KaplanMeierFitter

    relieved = frame[frame["responded"]]
    fitter = KaplanMeierFitter().fit(
        relieved["days"].astype(float).to_numpy(),
        event_observed=relieved["relapsed"].astype(bool).to_numpy(),
    )
    survival = fitter.survival_function_.iloc[:, 0]
    return [float(t) for t in survival.index], [float(v) for v in survival]
