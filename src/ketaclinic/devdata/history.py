"""The demo clinic's past: two and a half years of treatment for about 150 patients, ending
yesterday, so every chart, queue and analytics view of ``ketaclinic demo`` shows something.

It reuses the seed generator (``devdata.seeding``): the same bulk writes, no per-row audit event
(an event costs about 2 ms on the hash chain, and these rows are invented history, not anyone's
action), deterministic for a given day. Twelve of the demo's named patients are given a history
with a chosen story (Alice in lasting relief, Bob relapsed a month ago...), the rest are drawn
under realistic names. The booster refresh the worker runs every night then runs once, through
its service (audited), so the physician's queue holds the relapses found in that history.

Idempotent: a clinic that already has the demo's seeded patients is left as it is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from ketaclinic.accounts.models import Role, User
from ketaclinic.audit.api import Actor
from ketaclinic.clinics.models import Clinic
from ketaclinic.devdata.seeding import SeedProfile, SeedSummary, seed_clinic, seed_physician
from ketaclinic.outcomes.api import booster_suggestion_decline, booster_suggestions_refresh
from ketaclinic.outcomes.models import BoosterStatus, BoosterSuggestion
from ketaclinic.patients.models import Patient
from ketaclinic.plans.models import Plan

HISTORY_SEED = 16
HISTORY_PATIENTS = 150
HISTORY_YEARS = 2.5
HISTORY_PREFIX = f"S{HISTORY_SEED}-"
# Relapses older than this were decided at the time (declined, the reason below); the
# physician's queue holds the newer ones.
BOOSTER_QUEUE_DAYS = 120
DECLINE_REASON = "Discussed at the follow-up visit: continuing the plan's other treatments."

# given, days since registration, pain reduction, days the relief lasts, days of diary after
# the series (and, for one, the days since the series' last session). The series ends about six
# weeks after registration; a reduction of 0.3 or more is a response; relief longer than the
# follow-up never relapses.
NAMED_STORIES: tuple[tuple[str, int, float, float, int, int | None], ...] = (
    ("Alice", 160, 0.60, 2000.0, 2000, None),  # the patient log-in: relieved since her series
    ("Bob", 330, 0.55, 250.0, 2000, None),  # the other log-in: relapsed about a month ago
    ("Hector", 700, 0.65, 560.0, 2000, None),  # relapsed this year after a long relief
    ("Ines", 500, 0.10, 10.0, 120, None),  # did not respond
    ("James", 860, 0.45, 200.0, 300, None),
    ("Keisha", 420, 0.70, 2000.0, 2000, None),
    ("Mei", 70, 0.50, 2000.0, 2000, 2),  # series ended two days ago: sessions to sign
    ("Nikolai", 600, 0.35, 90.0, 250, None),
    ("Olivia", 250, 0.60, 180.0, 2000, None),  # relapsing now
    ("Pedro", 820, 0.20, 20.0, 90, None),
    ("Rashid", 880, 0.55, 300.0, 400, None),
    ("Tomas", 120, 0.40, 2000.0, 2000, None),
)

# Names for the drawn patients (the seeder's own are obviously invented, for benchmarks).
GIVEN_NAMES = (
    "Aaliyah", "Abigail", "Ahmed", "Amara", "Andre", "Angela", "Arjun", "Beatriz", "Brandon",
    "Chloe", "Daniel", "Deborah", "Diego", "Elena", "Emeka", "Fatima", "Frances", "Gabriel",
    "Grace", "Hannah", "Hiroshi", "Isabel", "Jamal", "Joanna", "Jorge", "Karen", "Kwame",
    "Laura", "Lucia", "Malik", "Margaret", "Marisol", "Michael", "Nadia", "Noah", "Omar",
    "Patricia", "Rachel", "Ravi", "Ruth", "Samir", "Sandra", "Tanisha", "Theresa", "Victor",
    "Walter", "Yusuf", "Zoe",
)  # fmt: skip
FAMILY_NAMES = (
    "Abernathy", "Adeyemi", "Bauer", "Bennett", "Castillo", "Coleman", "Dubois", "Edwards",
    "Fischer", "Foster", "Garcia", "Gupta", "Hughes", "Ibrahim", "Jackson", "Jensen", "Kaur",
    "Kim", "Lambert", "Lopez", "Mahoney", "Mendez", "Mitchell", "Nguyen", "Okoro", "Ortega",
    "Park", "Patel", "Quintero", "Ramirez", "Reed", "Schmidt", "Sullivan", "Thompson",
    "Turner", "Vasquez", "Walsh", "Washington", "Yamamoto", "Zielinski",
)  # fmt: skip


@dataclass(frozen=True)
class HistoryResult:
    summary: SeedSummary
    boosters: int  # suggestions the refresh made
    boosters_open: int  # of which left in the physician's queue


def _named_profiles(clinic: Clinic, today: dt.date) -> list[SeedProfile]:
    """The named demo patients' chosen stories; one who already has a record (a plan, from
    someone trying the demo) keeps it and gets no history."""
    treated = set(Plan.objects.filter(clinic=clinic).values_list("patient_id", flat=True))
    by_name = {
        p.given_name: p
        for p in Patient.objects.filter(clinic=clinic, mrn__startswith="D")
        .select_related("home_location")
        .order_by("mrn")
    }
    profiles = []
    for given, days_ago, reduction, relief_days, followup_days, ended in NAMED_STORIES:
        patient = by_name.get(given)
        if patient is None or patient.pk in treated:
            continue
        profiles.append(
            SeedProfile(
                patient=patient,
                registered=today - dt.timedelta(days=days_ago),
                reduction=reduction,
                relief_days=relief_days,
                followup_days=followup_days,
                series_end=None if ended is None else today - dt.timedelta(days=ended),
            )
        )
    return profiles


def history_loaded(clinic: Clinic) -> bool:
    return Patient.objects.filter(clinic=clinic, mrn__startswith=HISTORY_PREFIX).exists()


@transaction.atomic
def load_demo_history(*, clinic: Clinic, today: dt.date | None = None) -> HistoryResult | None:
    """Write the demo's history ending the day before ``today`` (default: today in the
    server's zone); None when it is already there."""
    if history_loaded(clinic):
        return None
    today = today or timezone.localdate()
    nurses = list(
        User.objects.filter(clinic=clinic, role=Role.NURSE, is_demo=True).order_by("email")
    )
    summary = seed_clinic(
        clinic=clinic,
        patients=HISTORY_PATIENTS,
        years=HISTORY_YEARS,
        seed=HISTORY_SEED,
        today=today,
        names=(GIVEN_NAMES, FAMILY_NAMES),
        adopt=_named_profiles(clinic, today),
        nurses=nurses,
    )
    # What the worker's nightly refresh would have found in that history (audited), and the
    # physician's decisions on all but the last months' relapses: the queue shows the recent.
    boosters = booster_suggestions_refresh(clinic=clinic)
    physician = seed_physician(clinic, HISTORY_SEED)
    decided_before = today - dt.timedelta(days=BOOSTER_QUEUE_DAYS)
    open_ = BoosterSuggestion.objects.filter(clinic=clinic, status=BoosterStatus.OPEN)
    for suggestion in open_.filter(relapse_date__lt=decided_before).order_by("pk"):
        booster_suggestion_decline(
            actor=Actor(user=physician), suggestion=suggestion, reason=DECLINE_REASON
        )
    return HistoryResult(summary=summary, boosters=boosters, boosters_open=open_.count())
