"""Benchmark the clinic analytics page's numbers against the analyst's path.

The page aggregates the stored per-series results in the database (responder counts grouped by
cause and protocol) and fits the Kaplan-Meier curves with lifelines on one (days, relapsed) pair
per relieved series (``ketaclinic.analytics.selectors.clinic_analytics``). Those results are
``clinical.outcomes``' judgement of each series, kept current by
``outcomes.durability.services`` after each daily score and on the 6-hourly refresh; the cost
of keeping them is timed too (a full refresh of the clinic, and one patient after a daily
score). The analyst would export the diary, the
infusion sessions and the intake scores to CSV, load them with pandas and compute the same rule
vectorised (``bench/analyst.py``), then fit lifelines. Both are timed end to end (the analyst's
time includes writing and reading the CSV files); the largest absolute difference between the
two Kaplan-Meier survival estimates is reported.

Run from the repository root against PostgreSQL (the database is created and migrated if
missing; each run seeds a fresh clinic):

    .venv/bin/python bench/analytics_bench.py --patients 2000
    .venv/bin/python bench/analytics_bench.py --patients 2000 --no-write

Only the text between ``<!-- analytics-bench:start -->`` and ``<!-- analytics-bench:end -->`` in
docs/benchmarks.md is rewritten. The exit status is 1 when the goal (at least 10 times faster,
identical estimates) is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))  # bench.analyst
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- analytics-bench:start -->", "<!-- analytics-bench:end -->"
GOAL_SPEEDUP = 10.0
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/kc_analytics_bench"


def _setup(database_url: str) -> None:
    os.environ.setdefault("KETACLINIC_MODE", "test")
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ketaclinic.settings")
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(database_url)
    admin = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (config["NAME"],)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{config["NAME"]}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _clinic() -> Any:
    from ketaclinic.accounts.models import Role, User
    from ketaclinic.clinics.models import Clinic, Location
    from ketaclinic.clinics.services import clinic_defaults_install

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    clinic = Clinic.objects.create(name=f"Benchmark clinic {stamp}", slug=f"bench-{stamp}")
    clinic_defaults_install(clinic=clinic)
    for name in ("Cleveland", "Charlotte"):
        Location.objects.create(clinic=clinic, name=name, city=name, time_zone="America/New_York")
    User.objects.create_user(
        f"physician@{clinic.slug}.seed.invalid", None, role=Role.PHYSICIAN, clinic=clinic
    )
    return clinic


def database_path(clinic: Any) -> tuple[list[float], list[float], int]:
    """The page's path: GROUP BY queries over the stored results, lifelines on the relieved."""
    from ketaclinic.analytics import selectors
    from ketaclinic.audit.services import Actor

    data = selectors.clinic_analytics(
        actor=Actor(user=None), clinic=clinic, filters=selectors.Filters()
    )
    curve = data.curves[0]
    return curve.timeline, curve.survival, data.overall.series


def _export(sql: str, params: Sequence[object], path: Path) -> None:
    from django.db import connection

    copy_sql = f"COPY ({sql}) TO STDOUT WITH CSV HEADER"
    with connection.cursor() as cursor:
        raw = cursor.connection  # psycopg 3: COPY streams the result as CSV
        with raw.cursor() as pg, pg.copy(copy_sql, params) as copy, path.open("wb") as out:
            for chunk in copy:
                out.write(chunk)


def analyst_path(clinic: Any, folder: Path, today: dt.date) -> tuple[list[float], list[float], int]:
    """Export to CSV, then pandas (vectorised, ``bench/analyst.py``) and lifelines."""
    import pandas as pd

    from bench.analyst import analyst_series, kaplan_meier

    diary_csv, sessions_csv, intake_csv = (folder / n for n in ("d.csv", "s.csv", "i.csv"))
    _export(
        "SELECT patient_id, entry_date, score FROM outcomes_diaryentry "
        "WHERE clinic_id = %s AND instrument = 'nrs'",
        [clinic.pk],
        diary_csv,
    )
    # Given sessions only: a session counts once its pump started.
    _export(
        "SELECT s.patient_id, a.series_id, (s.started_at AT TIME ZONE l.time_zone)::date AS day "
        "FROM infusions_infusionsession s "
        "JOIN scheduling_appointment a ON a.id = s.appointment_id "
        "JOIN clinics_location l ON l.id = s.location_id "
        "WHERE s.clinic_id = %s AND s.started_at IS NOT NULL AND a.series_id IS NOT NULL",
        [clinic.pk],
        sessions_csv,
    )
    _export(
        "SELECT patient_id, exam_date, pain_nrs FROM assessments_consultation "
        "WHERE clinic_id = %s AND pain_nrs IS NOT NULL",
        [clinic.pk],
        intake_csv,
    )
    diary = pd.read_csv(diary_csv, parse_dates=["entry_date"])
    sessions = pd.read_csv(sessions_csv, parse_dates=["day"])
    intake = pd.read_csv(intake_csv, parse_dates=["exam_date"])
    series = analyst_series(diary, sessions, intake, today)
    timeline, survival = kaplan_meier(series)
    return timeline, survival, len(series)


def _max_difference(
    a: tuple[list[float], list[float]], b: tuple[list[float], list[float]]
) -> float:
    """Largest |S_a(t) - S_b(t)| over the union of both step functions' times."""
    import numpy as np

    times = np.union1d(a[0], b[0])

    def at(curve: tuple[list[float], list[float]]) -> Any:
        index = np.searchsorted(curve[0], times, side="right") - 1
        return np.where(index >= 0, np.asarray(curve[1])[np.maximum(index, 0)], 1.0)

    return float(np.max(np.abs(at(a) - at(b))))


TARGET_PATIENTS = 100_000


def size_note(patients: int, entries: int, seed_s: float, refresh_s: float) -> str:
    """Where this run stands against the issue's target size."""
    if patients >= TARGET_PATIENTS:
        return (
            f"Size: {patients:,} patients and {entries / 1e6:.1f} million diary entries, the "
            "issue's target size (about 10 million entries asked). The page's cost grows with "
            "the number of series (one row each), the analyst's with the diary."
        )
    scale = TARGET_PATIENTS / patients
    return (
        f"Size: {patients:,} patients. The issue's target ({TARGET_PATIENTS:,} patients, about "
        "10 million diary entries) was not run here: at the rates measured, seeding would take "
        f"about {seed_s * scale / 60:.0f} minutes and the full refresh about "
        f"{refresh_s * scale / 60:.0f} minutes. The page's cost grows with the number of series "
        "(one row each), the analyst's with the diary."
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000, help="patients to seed (2000)")
    parser.add_argument("--years", type=float, default=3.0, help="years of history (3)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (1)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each path (3)")
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args(argv)
    load = f"{os.getloadavg()[0]:.1f}"

    _setup(args.database)
    from django.db import connection
    from django.utils import timezone

    from ketaclinic.devdata.seeding import seed_clinic
    from ketaclinic.outcomes.durability.services import (
        series_results_refresh,
        series_results_refresh_patient,
    )
    from ketaclinic.outcomes.models import DiaryEntry
    from ketaclinic.patients.models import Patient

    clinic = _clinic()
    history_ends = timezone.localdate()
    began = time.perf_counter()
    summary = seed_clinic(
        clinic=clinic,
        patients=args.patients,
        years=args.years,
        seed=args.seed,
        today=history_ends,
        progress=lambda done: print(".", end="", flush=True),
    )
    seed_s = time.perf_counter() - began
    print()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    entries = DiaryEntry.objects.filter(clinic=clinic).count()

    # Keeping the stored results current: the whole clinic (the 6-hourly refresh) and one
    # patient (after each daily score).
    judged_at = dt.datetime.combine(history_ends, dt.time(12, 0), tzinfo=dt.UTC)
    began = time.perf_counter()
    series_results_refresh(clinic=clinic, now=judged_at)
    refresh_s = time.perf_counter() - began
    one_patient = []
    for patient in Patient.objects.filter(clinic=clinic).select_related("home_location")[:20]:
        began = time.perf_counter()
        series_results_refresh_patient(patient=patient, now=judged_at)
        one_patient.append(time.perf_counter() - began)
    patient_ms = statistics.median(one_patient) * 1000

    # Import lifelines and pandas before timing: both paths use them, and a one-off import of
    # a few seconds is not what either path costs per request.
    import lifelines
    import pandas as pd
    from lifelines import KaplanMeierFitter  # noqa: F401

    db_times, analyst_times = [], []
    db_result = analyst_result = None
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeat):
            began = time.perf_counter()
            db_result = database_path(clinic)
            db_times.append(time.perf_counter() - began)
            began = time.perf_counter()
            analyst_result = analyst_path(clinic, Path(folder), history_ends)
            analyst_times.append(time.perf_counter() - began)
    assert db_result is not None
    assert analyst_result is not None
    db_s, analyst_s = statistics.median(db_times), statistics.median(analyst_times)
    difference = _max_difference(db_result[:2], analyst_result[:2])
    speedup = analyst_s / db_s
    met = speedup >= GOAL_SPEEDUP and difference == 0.0
    today = dt.datetime.now(dt.UTC).date().isoformat()

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    body = "\n".join(
        [
            f"_Generated by `bench/analytics_bench.py` on {today}; rerun it rather than editing "
            "this section._",
            "",
            f"Machine: {_cpu_model()}, {os.cpu_count()} CPUs (shared with other work; load "
            f"average {load} at the start); PostgreSQL {pg_version}, Python "
            f"{platform.python_version()}, pandas {pd.__version__}, lifelines "
            f"{lifelines.__version__}.",
            "",
            f"Data: `ketaclinic seed --patients {args.patients} --years {args.years:g} --seed "
            f"{args.seed}`: {summary.series} series, {summary.sessions} completed sessions, "
            f"{entries:,} diary entries (seeded in {seed_s:.0f} s).",
            "",
            f"| path | median of {args.repeat} runs |",
            "|---|---:|",
            f"| analytics page (GROUP BY over {db_result[2]:,} stored series results + "
            f"lifelines) | {db_s:.3f} s |",
            f"| analyst (CSV export, vectorised pandas, lifelines) | {analyst_s:.2f} s |",
            "",
            f"Speed-up {speedup:.0f}x; largest difference between the two Kaplan-Meier "
            f"estimates {difference:.1e}. Goal (at least {GOAL_SPEEDUP:g}x faster, identical "
            f"estimates): {'met' if met else '**missed**'}.",
            "",
            "The page is fast because the judgement of each series is stored, so the cost moves "
            "to keeping it current, which the page does not pay per view: recomputing every "
            f"series of the clinic with `clinical.outcomes` took {refresh_s:.0f} s "
            f"({1000 * refresh_s / args.patients:.1f} ms per patient; the worker does it every "
            f"6 hours), and one patient after a daily score {patient_ms:.0f} ms (median of "
            f"{len(one_patient)}).",
            "",
            size_note(args.patients, entries, seed_s, refresh_s),
        ]
    )
    print(body)
    if not args.no_write:
        text = DOC.read_text()
        block = f"{START}\n{body}\n{END}"
        if START in text and END in text:
            before, rest = text.split(START, 1)
            _, after = rest.split(END, 1)
            text = before + block + after
        else:
            text = (
                text.rstrip("\n")
                + "\n\n## Clinic analytics\n\n`bench/analytics_bench.py`: the clinic analytics "
                "page's numbers (responder rates and Kaplan-Meier durability, computed in the "
                "database) against the analyst's path (CSV export, then pandas and lifelines). "
                "Goal: at least 10 times faster with identical estimates. Run "
                "`.venv/bin/python bench/analytics_bench.py --patients N` from the repository "
                "root.\n\n" + block + "\n"
            )
        DOC.write_text(text)
        print(f"\nwrote {DOC.relative_to(ROOT)}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
