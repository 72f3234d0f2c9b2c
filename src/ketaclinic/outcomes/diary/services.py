"""Writes of the pain diary: one transaction each, audited in it. The entry, the reminder
schedule, and (from ``diary.reminders``, the task worker's work) sending the reminders, whose
emails go out only after the claim that makes them at-most-once has committed.

One entry per patient, instrument and day. A second entry for the same day replaces the first
(its answers, score and note; ``version`` goes up and the audit trail records the update): the
daily NRS asks "your pain today", so a second answer the same evening is the patient's correction,
not a second observation, and averaging the two would keep a value the patient withdrew. The
durability rule would average same-day entries anyway; storing one keeps the chart and the rule
reading the same number. A correction from a stale page (the form's ``version``) is refused.

Scores come from ``ketaclinic.clinical.instruments.score`` only; its field-named errors become
the form's field errors. Refusals raise ``ValidationError`` (or ``LinkError``) and change nothing.

Imports run one way: ``diary.tasks`` wraps this module (the reminder dispatcher, started by the
task worker, sends through ``diary_reminders_send``) and this module enqueues nothing. A new daily
score marks the patient's stored series results (``durability``) as changed, and the periodic
refresh recomputes them and the booster check; neither imports the diary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinical import codes, instruments
from ketaclinic.lib.forms import StaleObjectError
from ketaclinic.lib.locking import require_version
from ketaclinic.outcomes import timing
from ketaclinic.outcomes.diary.links import diary_link_consume

# Re-exported: callers find every write of the diary here, sending the reminders included.
from ketaclinic.outcomes.diary.reminders import diary_reminders_send as diary_reminders_send
from ketaclinic.outcomes.diary.reminders import reminder_next_due
from ketaclinic.outcomes.durability.services import series_results_mark
from ketaclinic.outcomes.models import (
    NRS_LOINC,
    DiaryEntry,
    DiaryLink,
    EntrySource,
    Instrument,
    ReminderSchedule,
)
from ketaclinic.patients.models import Patient

NOTE_MAX = 500


def _loinc_for(instrument: str) -> str:
    if instrument == Instrument.NRS:
        # From the project's code table, so a typo here fails loudly rather than storing a code
        # nobody can interpret.
        code = codes.lookup(codes.LOINC.key, NRS_LOINC, field="loinc").code
        return code
    return ""


def _check_date(patient: Patient, entry_date: object, *, now: dt.datetime) -> dt.date:
    if not isinstance(entry_date, dt.date) or isinstance(entry_date, dt.datetime):
        raise ValidationError({"entry_date": "Enter the day this entry is for."})
    zone = timing.patient_zone(patient)
    today = timing.local_today(zone, now)
    if entry_date > today:
        raise ValidationError(
            {
                "entry_date": f"{entry_date:%d %B %Y} is in the future: the diary records days "
                "that have happened."
            }
        )
    registered = timing.local_date_of(patient.created_at, zone)
    if entry_date < registered:
        raise ValidationError(
            {
                "entry_date": f"{entry_date:%d %B %Y} is before you joined the clinic "
                f"({registered:%d %B %Y}); the diary starts on that day."
            }
        )
    return entry_date


def _score(instrument: str, answers: Mapping[str, object]) -> instruments.Score:
    if instrument not in Instrument.values:
        raise ValidationError({"instrument": "Unknown diary entry."})
    try:
        return instruments.score(instrument, answers)
    except instruments.InvalidAnswers as exc:
        raise ValidationError(dict(exc.errors)) from None


def diary_entry_record(
    *,
    actor: Actor,
    patient: Patient,
    instrument: str,
    entry_date: dt.date,
    answers: Mapping[str, object],
    note: str = "",
    expected_version: int | None = None,
    link: DiaryLink | None = None,
    now: dt.datetime | None = None,
) -> DiaryEntry:
    """Record (or replace) the patient's entry for one instrument and day.

    ``expected_version``: the version of the entry the form showed (0 when it showed none); a
    mismatch means it changed since, and the save is refused. ``link``: the emailed link this
    entry comes through; it must name this patient, instrument and day, and is claimed in the
    same transaction, so a refused entry leaves it usable and a used one records nothing.
    """
    now = now or timezone.now()
    note = (note or "").strip()
    if link is not None and (
        link.patient_id != patient.pk
        or link.instrument != instrument
        or link.entry_date != entry_date
    ):
        # Views take all three from the link row; reaching this means a caller mixed them up.
        raise ValidationError({"link": "This link records a different entry. Nothing was saved."})
    entry_date = _check_date(patient, entry_date, now=now)
    result = _score(instrument, answers)
    if len(note) > NOTE_MAX:
        raise ValidationError(
            {"note": f"Keep the note to {NOTE_MAX} characters (it has {len(note)})."}
        )
    values = {
        "answers": dict(answers),
        "score": result.total,
        "loinc": _loinc_for(instrument),
        "note": note,
        "source": EntrySource.LINK if link is not None else EntrySource.PORTAL,
        "recorded_by": actor.user,
    }
    try:
        with transaction.atomic():
            if link is not None:
                diary_link_consume(link, now=now)
            existing = (
                DiaryEntry.objects.select_for_update()
                .filter(patient=patient, instrument=instrument, entry_date=entry_date)
                .first()
            )
            require_version(existing, expected_version, "diary entry")
            if existing is None:
                entry = DiaryEntry(
                    clinic_id=patient.clinic_id,
                    patient=patient,
                    instrument=instrument,
                    entry_date=entry_date,
                    **values,
                )
                # Not the random public id: a query to check it is unique would find nothing (the
                # unique index stands guard), and the save would cost one more.
                entry.full_clean(exclude=["public_id"], validate_constraints=False)
                entry.save()
                action = Action.CREATE
                changed = sorted(["answers", "score", "note"] if note else ["answers", "score"])
            else:
                changed = sorted(
                    name
                    for name in ("answers", "score", "note")
                    if getattr(existing, name) != values[name]
                )
                for name, value in values.items():
                    setattr(existing, name, value)
                # The row is locked (select_for_update above), so a plain increment is safe.
                existing.version += 1
                existing.full_clean(exclude=["public_id"], validate_constraints=False)
                existing.save()
                entry = existing
                action = Action.UPDATE
            audit_record(
                actor=actor,
                action=action,
                object_type="diary_entry",
                object_id=entry.pk,
                patient=patient,
                # Which fields, never their values
                # (docs/architecture.md "Privacy in URLs and logs").
                detail={
                    "instrument": instrument,
                    "date": entry_date.isoformat(),
                    "fields": changed,
                    "via_link": link is not None,
                },
            )
            if instrument == Instrument.NRS:
                # A new daily score can complete a relapse run or change a series' result. Judging
                # the whole diary here would make each save cost more as the diary grows, so the
                # save only marks the patient (one query, committed with the entry) and the
                # periodic refresh recomputes the marked patients in batches
                # (``boosters.services.outcomes_refresh_changed``, every few minutes).
                series_results_mark(patients=[(patient.pk, patient.clinic_id)], now=now)
    except IntegrityError:
        # Two first entries for the same day at the same instant: the unique constraint let one
        # through. The other is refused like a stale page (nothing of it was saved).
        raise StaleObjectError("diary entry") from None
    return entry


# --- reminder schedule ------------------------------------------------------------------------


def reminder_schedule_save(
    *,
    actor: Actor,
    patient: Patient,
    enabled: bool,
    time_of_day: dt.time,
    daily_nrs: bool,
    weekly_peg: bool,
    peg_weekday: int,
    paused_until: dt.date | None = None,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> ReminderSchedule:
    """Create or change the patient's reminder schedule (0 as ``expected_version`` means the form
    showed none). Turning reminders on needs an email address to send them to."""
    now = now or timezone.now()
    if enabled and not patient.email:
        raise ValidationError(
            {
                "enabled": "We have no email address for you, so we cannot send reminders. "
                "Ask the clinic to add one."
            }
        )
    if enabled and not (daily_nrs or weekly_peg):
        raise ValidationError(
            {
                "daily_nrs": "Choose the daily pain score, the weekly PEG, or both, or turn "
                "reminders off."
            }
        )
    if paused_until is not None and paused_until < timing.local_today(
        timing.patient_zone(patient), now
    ):
        raise ValidationError({"paused_until": "Choose today or a later day to pause until."})
    values: dict[str, Any] = {
        "enabled": enabled,
        "time_of_day": time_of_day,
        "daily_nrs": daily_nrs,
        "weekly_peg": weekly_peg,
        "peg_weekday": peg_weekday,
        "paused_until": paused_until,
    }
    with transaction.atomic():
        current = ReminderSchedule.objects.select_for_update().filter(patient=patient).first()
        require_version(current, expected_version, "reminder schedule")
        schedule = current or ReminderSchedule(patient=patient)
        changed = sorted(k for k, v in values.items() if getattr(schedule, k, None) != v)
        for name, value in values.items():
            setattr(schedule, name, value)
        schedule.next_due_at = reminder_next_due(schedule, patient=patient, after=now)
        if current is not None:
            schedule.version = current.version + 1
        schedule.full_clean()
        schedule.save()
        audit_record(
            actor=actor,
            action=Action.UPDATE if current is not None else Action.CREATE,
            object_type="diary_reminder_schedule",
            object_id=schedule.pk,
            patient=patient,
            detail={"fields": changed},
        )
    return schedule


def reminder_schedule_pause(
    *,
    actor: Actor,
    patient: Patient,
    until: dt.date | None,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> ReminderSchedule:
    """Pause reminders up to and including ``until``, or resume them (``until=None``)."""
    now = now or timezone.now()
    if until is not None and until < timing.local_today(timing.patient_zone(patient), now):
        raise ValidationError({"paused_until": "Choose today or a later day to pause until."})
    with transaction.atomic():
        schedule = ReminderSchedule.objects.select_for_update().filter(patient=patient).first()
        if schedule is None:
            raise ValidationError({"paused_until": "You have no reminders to pause."})
        require_version(schedule, expected_version, "reminder schedule")
        schedule.paused_until = until
        schedule.next_due_at = reminder_next_due(schedule, patient=patient, after=now)
        schedule.version += 1
        schedule.full_clean()
        schedule.save()
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="diary_reminder_schedule",
            object_id=schedule.pk,
            patient=patient,
            detail={"fields": ["paused_until"], "paused": until is not None},
        )
    return schedule
