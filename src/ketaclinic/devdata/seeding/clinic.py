"""``seed_clinic``: checks that a seed may run, then writes it batch by batch: each batch is drawn
first, then written in short transactions (records, history, the series results judged as the
chart would, the audit trail), so a live server on the same database keeps answering."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence

import numpy as np
from django.utils import timezone

from ketaclinic.accounts.models import User
from ketaclinic.clinics.api import clinic_policy_current
from ketaclinic.clinics.models import Clinic, Location, ProtocolTemplate
from ketaclinic.devdata.seeding.audit_trail import draw_audit, write_audit
from ketaclinic.devdata.seeding.history import write_history
from ketaclinic.devdata.seeding.population import (
    BATCH_PATIENTS,
    CAUSES,
    FAMILY,
    GIVEN,
    SeedNurses,
    SeedProfile,
    SeedRefusedError,
    SeedRun,
    SeedSummary,
    seed_infusion_type,
    seed_locations,
    seed_physician,
)
from ketaclinic.devdata.seeding.records import write_records
from ketaclinic.outcomes.api import series_results_refresh
from ketaclinic.patients.models import Patient


def seed_clinic(
    *,
    clinic: Clinic,
    patients: int,
    years: float,
    seed: int,
    today: dt.date | None = None,
    progress: Callable[[int], None] | None = None,
    names: tuple[tuple[str, ...], tuple[str, ...]] = (GIVEN, FAMILY),
    adopt: Sequence[SeedProfile] = (),
    nurses: Sequence[User] = (),
    locations: int = 0,
    audit_per_patient: int = 0,
) -> SeedSummary:
    """Write ``patients`` synthetic patients with ``years`` of history ending ``today``.

    ``progress`` is called with the number of patients written after each batch. ``names``
    (given, family) replaces the obviously invented names; ``adopt`` gives existing patients
    the first histories (they count among ``patients``); ``nurses`` are booked before any seed
    nurse is invented. ``locations`` adds seed sites until the clinic has that many (a chain);
    ``audit_per_patient`` writes that many audit events per patient to the clinic's hash chain
    (``audit_trail.py``; none by default).
    """
    if patients < max(len(adopt), 1):
        raise SeedRefusedError("--patients must be at least 1 (and cover the adopted patients).")
    if not 0.25 <= years <= 30:
        raise SeedRefusedError("--years must be between 0.25 and 30.")
    if not 0 <= locations <= 500:
        raise SeedRefusedError("--locations must be between 0 and 500.")
    if not 0 <= audit_per_patient <= 1000:
        raise SeedRefusedError("--audit-per-patient must be between 0 and 1000.")
    sites = list(Location.objects.filter(clinic=clinic).order_by("pk"))
    if not sites and not locations:
        raise SeedRefusedError(f"Clinic {clinic.slug} has no location to seed infusions at.")
    templates = list(
        ProtocolTemplate.objects.filter(clinic=clinic, is_active=True).order_by("name", "pk")
    )
    if not templates:
        raise SeedRefusedError(f"Clinic {clinic.slug} has no active protocol template.")
    prefix = f"S{seed}-"
    if Patient.objects.filter(clinic=clinic, mrn__startswith=prefix).exists():
        raise SeedRefusedError(
            f"Clinic {clinic.slug} already holds patients seeded with --seed {seed}; "
            "use another seed."
        )

    if locations:
        sites = seed_locations(clinic, locations)
    # On the real day the results are judged once each batch is written (not at a made-up noon
    # that may come before the rows' own times: the incremental refresh would then take every
    # seeded patient for changed, ``series_results_changed``); at noon of a chosen day else.
    judge_now = today is None
    today = today or timezone.localdate()
    judged_at = dt.datetime.combine(today, dt.time(12, 0), tzinfo=dt.UTC)
    end = today - dt.timedelta(days=1)
    first_day = end - dt.timedelta(days=round(years * 365))
    run = SeedRun(
        rng=np.random.default_rng(seed),
        clinic=clinic,
        namespace=uuid.uuid5(uuid.NAMESPACE_URL, f"ketaclinic-seed:{clinic.slug}"),
        prefix=prefix,
        first_day=first_day,
        span_days=max((end - first_day).days - 60, 1),
        end=end,
        locations=sites,
        templates=templates,
        physician=seed_physician(clinic, seed),
        infusion_type=seed_infusion_type(clinic),
        recovery_min=clinic_policy_current(clinic_id=clinic.pk).recovery_min,
        nurses=SeedNurses(clinic, seed, list(nurses)),
        shares=np.array([c.share for c in CAUSES]),
        given_names=names[0],
        family_names=names[1],
        adopted=dict(enumerate(adopt)),
        audit_rng=np.random.default_rng([seed, 1]),
    )
    summary = SeedSummary()

    for batch_start in range(0, patients, BATCH_PATIENTS):
        count = min(BATCH_PATIENTS, patients - batch_start)
        # No transaction around the batch: each writer below commits a few thousand rows at a
        # time (``bulk.py``), and nothing is drawn or computed while one is open.
        now = timezone.now()
        patient_rows, drafts, series_rows = write_records(
            run, numbers=range(batch_start, batch_start + count), now=now, summary=summary
        )
        appointments, sessions = write_history(
            run,
            patients=patient_rows,
            drafts=drafts,
            series_rows=series_rows,
            summary=summary,
        )
        # The analytics read stored series results: judge the new patients as the chart would,
        # on the day the history ends (the service commits a batch of patients at a time).
        series_results_refresh(
            clinic=clinic,
            patient_ids=[p.pk for p in patient_rows],
            now=timezone.now() if judge_now else judged_at,
        )
        if audit_per_patient:
            events = draw_audit(
                run,
                patients=patient_rows,
                drafts=drafts,
                appointments=appointments,
                sessions=sessions,
                per_patient=audit_per_patient,
            )
            write_audit(run, events)
            summary.audit_events += len(events)
        summary.patients += count
        if progress is not None:
            progress(count)
    return summary
