"""Who the seed invents: causes and their distributions, names, each patient's draws, and the
staff the records name (a physician, nurses with back-to-back chair blocks).

Separate from the writers (``records.py``, ``history.py``): this is where the plausible-looking
numbers of the synthetic population are chosen, in the order the generator draws them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

import numpy as np

from ketaclinic.accounts.models import Role, User
from ketaclinic.clinics.models import Chair, Clinic, Location, ProtocolTemplate, SeriesPattern
from ketaclinic.infusions.models import AdverseEventKind
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.api import PATTERN_WEEKDAYS, series_dates
from ketaclinic.scheduling.models import AppointmentKind, AppointmentType

BATCH_PATIENTS = 250
NO_SHOW_P = 0.05
ADVERSE_EVENT_P = 0.08
MISSING_DAY_P = 0.25
BASELINE_DAYS = 10  # diary days before the first infusion
DAY_MINUTES = 13 * 60  # a seed nurse's day: chair blocks from 08:00 to 21:00 local time
FIRST_SLOT = dt.time(8, 0)
UNSIGNED_DAYS = 7  # sessions of the history's last week still wait for the physician's signature


@dataclass(frozen=True)
class SeedCause:
    key: str
    system: str
    code: str
    display: str
    share: float
    # P(substantial), P(moderate); the rest do not respond.
    p_substantial: float
    p_moderate: float
    relief_scale_days: float


CAUSES: tuple[SeedCause, ...] = (
    SeedCause(
        "diabetes", "snomed", "230572002", "Neuropathy due to diabetes mellitus",
        0.30, 0.25, 0.30, 70.0,
    ),
    SeedCause("postherpetic", "snomed", "2177002", "Postherpetic neuralgia",
              0.15, 0.30, 0.30, 90.0),
    SeedCause("ms", "snomed", "24700007", "Multiple sclerosis", 0.10, 0.20, 0.25, 45.0),
    SeedCause("nerve_injury", "icd10cm", "G89.21", "Chronic pain due to trauma",
              0.15, 0.25, 0.30, 60.0),
    SeedCause("crps", "snomed", "128200000", "Complex regional pain syndrome",
              0.15, 0.35, 0.30, 120.0),
    SeedCause("unknown", "", "", "", 0.15, 0.15, 0.25, 50.0),
)  # fmt: skip

GIVEN = ("Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Robin", "Drew")
FAMILY = ("Seedling", "Sample", "Synth", "Example", "Mock", "Trial", "Fixture", "Proxy")
AE_KINDS = (
    AdverseEventKind.DISSOCIATION,
    AdverseEventKind.NAUSEA,
    AdverseEventKind.HYPERTENSION,
    AdverseEventKind.DIZZINESS,
    AdverseEventKind.HEADACHE,
)


@dataclass
class SeedSummary:
    patients: int = 0
    series: int = 0
    appointments: int = 0
    no_shows: int = 0
    sessions: int = 0
    adverse_events: int = 0
    diary_entries: int = 0
    responders: int = 0
    audit_events: int = 0
    by_cause: dict[str, int] = field(default_factory=dict)


class SeedRefusedError(Exception):
    """The seed cannot run as asked (a message for the operator)."""


def seed_uuid(rng: np.random.Generator, namespace: uuid.UUID) -> uuid.UUID:
    # Drawn from the generator (deterministic), then mixed with the clinic's namespace: public
    # ids are unique site-wide, so one seed loaded into two clinics must not repeat them.
    return uuid.uuid5(namespace, rng.bytes(16).hex())


@dataclass(frozen=True)
class SeedProfile:
    """An existing patient given a seeded history (the demo's named patients): the generator
    still draws a new patient's numbers for the place (so the rest of the seed stays the same),
    then these replace the draws that decide the story."""

    patient: Patient
    registered: dt.date
    reduction: float
    relief_days: float
    followup_days: int
    # The day the series' last session falls on (or just before), instead of the drawn start.
    series_end: dt.date | None = None

    def apply(self, draft: PatientDraft) -> None:
        draft.location = self.patient.home_location or draft.location
        draft.registered = self.registered
        draft.reduction = self.reduction
        draft.relief_days = self.relief_days
        draft.followup_days = self.followup_days
        draft.series_end = self.series_end


@dataclass
class PatientDraft:
    """One invented patient's draws; the writers add what they derive (exam day, doses)."""

    cause: SeedCause
    location: Location
    registered: dt.date
    baseline: float
    reduction: float
    relief_days: float
    followup_days: int
    template: ProtocolTemplate
    weight: float
    exam: dt.date = dt.date.min
    total_mg: float = 0.0
    rate_mg_per_h: float = 0.0
    series_end: dt.date | None = None


def draw_patient(
    rng: np.random.Generator,
    *,
    shares: np.ndarray,
    first_day: dt.date,
    span_days: int,
    locations: list[Location],
    templates: list[ProtocolTemplate],
) -> PatientDraft:
    """A patient's cause, location, pain and response to the series (see the package's
    distributions), drawn in this fixed order."""
    cause = CAUSES[int(rng.choice(len(CAUSES), p=shares))]
    location = locations[int(rng.integers(len(locations)))]
    registered = first_day + dt.timedelta(days=int(rng.integers(span_days)))
    baseline = float(np.clip(rng.normal(7.0, 0.8), 4.0, 10.0))
    draw = rng.random()
    if draw < cause.p_substantial:
        reduction = rng.uniform(0.5, 0.75)
    elif draw < cause.p_substantial + cause.p_moderate:
        reduction = rng.uniform(0.3, 0.5)
    else:
        reduction = rng.uniform(0.0, 0.2)
    return PatientDraft(
        cause=cause,
        location=location,
        registered=registered,
        baseline=baseline,
        reduction=float(reduction),
        relief_days=float(cause.relief_scale_days * rng.weibull(1.4)),
        followup_days=int(rng.integers(60, 300)),
        template=templates[int(rng.integers(len(templates)))],
        weight=float(np.clip(rng.normal(80.0, 15.0), 45.0, 160.0)),
    )


class SeedNurses:
    """Seed nurses, each given back-to-back chair blocks through a ``DAY_MINUTES`` day (the
    database refuses overlapping appointments of one provider).

    One pool of nurses per time zone: a block at 08:00 in Los Angeles is 11:00 in New York, so
    a nurse's day is counted in one zone only (a chain's sites span four)."""

    def __init__(self, clinic: Clinic, seed: int, staff: list[User] | None = None) -> None:
        self.clinic = clinic
        self.seed = seed
        # The clinic's own nurses first (the demo's), in the first zone asked for; seed nurses
        # only when their days are full.
        self.staff: list[User] = list(staff or [])
        self.pools: dict[str, list[User]] = {}
        self.used: dict[tuple[str, int, dt.date], int] = {}

    @property
    def users(self) -> list[User]:
        """Every nurse booked so far (the staff's first)."""
        return [user for pool in self.pools.values() for user in pool] or list(self.staff)

    def _user(self, zone: str, index: int) -> User:
        if zone not in self.pools:
            self.pools[zone] = list(self.staff) if not self.pools else []
        pool = self.pools[zone]
        suffix = "" if zone == next(iter(self.pools)) else f"-z{list(self.pools).index(zone)}"
        while len(pool) <= index:
            email = f"seed{self.seed}-nurse{len(pool) + 1}{suffix}@{self.clinic.slug}.seed.invalid"
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(
                    email, None, role=Role.NURSE, clinic=self.clinic, full_name="Seed nurse"
                )
            pool.append(user)
        return pool[index]

    def slot(self, day: dt.date, minutes: int, zone: str = "") -> tuple[User, int]:
        """A provider and the minute (after ``FIRST_SLOT``, local time in ``zone``) at which a
        block of ``minutes`` fits."""
        index = 0
        while self.used.get((zone, index, day), 0) + minutes > max(DAY_MINUTES, minutes):
            index += 1
        offset = self.used.get((zone, index, day), 0)
        self.used[(zone, index, day)] = offset + minutes
        return self._user(zone, index), offset


def series_days(start: dt.date, count: int, pattern: str) -> list[dt.date]:
    """The days of a seeded series: the scheduling app's pattern from the first day it allows on
    or after ``start`` (an unknown pattern counts as weekdays)."""
    if pattern not in PATTERN_WEEKDAYS:
        pattern = SeriesPattern.WEEKDAYS
    first = start
    while first.weekday() not in PATTERN_WEEKDAYS[pattern]:
        first += dt.timedelta(days=1)
    return series_dates(first, pattern, count)


def series_days_ending(end: dt.date, count: int, pattern: str) -> list[dt.date]:
    """The latest series of the pattern whose last session is on or before ``end``."""
    start = end
    while (days := series_days(start, count, pattern))[-1] > end:
        start -= dt.timedelta(days=1)
    return days


def seed_physician(clinic: Clinic, seed: int) -> User:
    physician = (
        User.objects.filter(clinic=clinic, role=Role.PHYSICIAN, is_active=True)
        .order_by("pk")
        .first()
    )
    if physician is not None:
        return physician
    email = f"seed{seed}-physician@{clinic.slug}.seed.invalid"
    existing = User.objects.filter(email=email).first()
    return existing or User.objects.create_user(
        email, None, role=Role.PHYSICIAN, clinic=clinic, full_name="Seed physician"
    )


SITE_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
SITE_CHAIRS = 4


def seed_locations(clinic: Clinic, count: int) -> list[Location]:
    """The clinic's locations, ``count`` at least: a chain's sites are added as ``Seed site N``
    (four chairs each, time zones across the continental United States) where the clinic has
    fewer."""
    existing = list(Location.objects.filter(clinic=clinic).order_by("pk"))
    for number in range(len(existing) + 1, count + 1):
        location = Location.objects.create(
            clinic=clinic,
            name=f"Seed site {number}",
            city=f"Seedville {number}",
            time_zone=SITE_ZONES[number % len(SITE_ZONES)],
        )
        Chair.objects.bulk_create(
            Chair(location=location, name=f"Chair {i}") for i in range(1, SITE_CHAIRS + 1)
        )
        existing.append(location)
    return existing


def seed_infusion_type(clinic: Clinic) -> AppointmentType:
    found = (
        AppointmentType.objects.filter(clinic=clinic, kind=AppointmentKind.INFUSION)
        .order_by("pk")
        .first()
    )
    if found is not None:
        return found
    return AppointmentType.objects.create(
        clinic=clinic,
        kind=AppointmentKind.INFUSION,
        name="Ketamine infusion",
        duration_min=60,
        provider_role=Role.NURSE,
        needs_chair=True,
    )


@dataclass(frozen=True)
class SeedRun:
    """What every batch of one seed shares: the generator, the clinic and its staff, the span of
    the history and the choices a draft is drawn from."""

    rng: np.random.Generator
    clinic: Clinic
    namespace: uuid.UUID
    prefix: str
    first_day: dt.date
    span_days: int
    end: dt.date
    locations: list[Location]
    templates: list[ProtocolTemplate]
    physician: User
    infusion_type: AppointmentType
    recovery_min: int
    nurses: SeedNurses
    shares: np.ndarray
    given_names: tuple[str, ...] = GIVEN
    family_names: tuple[str, ...] = FAMILY
    # Existing patients given a history, by their number in the seed.
    adopted: dict[int, SeedProfile] = field(default_factory=dict)
    # The audit trail's own generator (``audit_trail.py``), so the trail changes no other draw.
    audit_rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
