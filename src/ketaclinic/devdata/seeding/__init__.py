"""Synthetic clinic data for tests, demos and benchmarks (``ketaclinic seed``).

This is bulk loading of invented patients, not a user action: rows are written in bulk
(``bulk_create``; the diary and the audit trail as plain rows, by COPY on PostgreSQL), bypassing
the services (no ``full_clean``, no per-row ``audit_record``), because a benchmark needs millions
of diary entries in minutes. Each batch is drawn first and then written in short transactions of
a few thousand rows (``bulk.py``), so a live server on the same SQLite file keeps answering; the
audit trail, when asked for, is appended to the clinic's hash chain (``audit_trail.py``). It
must never run against a clinic's real records: the command refuses production mode unless
forced, and every seeded record is recognisable (record numbers ``S<seed>-...``, e-mail domain
``seed.invalid``).

Everything is drawn from one ``numpy.random.Generator`` seeded with ``seed``, in a fixed order,
so the same seed, size and end date give the same data (public ids included).

Distributions (plausible, not fitted to any data set):

- causes: diabetic neuropathy 30%, postherpetic neuralgia 15%, multiple sclerosis 10%, nerve
  injury 15%, CRPS 15%, no recorded cause 15%;
- baseline NRS: normal(7, 0.8) clipped to 4-10, the daily diary scattering around it (sd 0.8);
- response to the series, by cause: substantial (50-75% lower), moderate (30-50%) or none
  (0-20%); relief of responders lasts a Weibull(shape 1.4) number of days, scale 45-120 days
  by cause, then pain climbs back to about the baseline within a week;
- each diary day is missing with probability 0.25, and the diary stops 60-300 days after the
  series (or at the end date);
- each infusion appointment is a no-show with probability 0.05, and each completed session has
  an adverse event with probability 0.08; the physician has signed every session but those of
  the last week, and signed each exam, decision and plan on the exam's day.

``SeedProfile`` gives an existing patient one of the histories with a chosen story (the demo's
named patients, ``devdata.history``): the generator still draws that place's numbers, so the
other patients stay the same.

``population`` draws the people (and a chain's sites), ``records`` writes what precedes
treatment (patients to series), ``history`` what followed (sessions, diaries), ``audit_trail``
the events staff would have left, ``bulk`` the short transactions, ``clinic`` runs it batch by
batch.
Callers import from here.
"""

from ketaclinic.devdata.seeding.clinic import seed_clinic
from ketaclinic.devdata.seeding.population import (
    SeedProfile,
    SeedRefusedError,
    SeedSummary,
    seed_physician,
)

__all__ = ["SeedProfile", "SeedRefusedError", "SeedSummary", "seed_clinic", "seed_physician"]
