"""Sending the diary reminders (the task worker's work, wrapped by ``diary.tasks``): each due
schedule's reminders are claimed at most once, with their single-use links, and emailed after the
claim has committed. Also when a schedule is next due, which saving a schedule needs too.

This module enqueues nothing, so the task that runs it imports it without a cycle.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinical.outcomes import PGIC_AFTER_DAYS
from ketaclinic.outcomes import timing
from ketaclinic.outcomes.diary import emails
from ketaclinic.outcomes.diary.links import diary_link_issue
from ketaclinic.outcomes.models import DiaryEntry, Instrument, ReminderSchedule, SentDiaryReminder
from ketaclinic.outcomes.selectors import infusion_series_for_patient
from ketaclinic.patients.models import Patient

log = logging.getLogger(__name__)

# A reminder found more than this late (the worker was down) is skipped rather than sent at an
# odd hour; the schedule moves on to the next day.
REMINDER_GRACE = dt.timedelta(hours=6)
REMINDER_BATCH = 200
# Every schedule handled moves past ``now`` (or off), so the loop ends long before this; the cap
# only guards against a bug turning the worker into a busy loop.
MAX_BATCHES = 1000


def reminder_next_due(
    schedule: ReminderSchedule, *, patient: Patient, after: dt.datetime
) -> dt.datetime | None:
    """The schedule's next reminder instant strictly after ``after`` (None: nothing to send)."""
    return timing.next_reminder_at(
        enabled=schedule.enabled,
        time_of_day=schedule.time_of_day,
        daily_nrs=schedule.daily_nrs,
        weekly_peg=schedule.weekly_peg,
        peg_weekday=schedule.peg_weekday,
        paused_until=schedule.paused_until,
        zone=timing.patient_zone(patient),
        after=after,
    )


def _pgic_due(patient: Patient, day: dt.date) -> bool:
    """Whether the reminder on ``day`` also asks the PGIC: the patient's latest series has ended
    at least ``PGIC_AFTER_DAYS`` before, and since its end there is neither a PGIC entry nor a
    PGIC reminder (so it is asked once per series, on the first reminder day after the wait)."""
    series = infusion_series_for_patient(patient, today=day)
    if not series or series[-1].ongoing:
        return False
    end = series[-1].end
    if day < end + dt.timedelta(days=PGIC_AFTER_DAYS):
        return False
    answered = DiaryEntry.objects.filter(
        patient=patient, instrument=Instrument.PGIC, entry_date__gte=end
    ).exists()
    asked = SentDiaryReminder.objects.filter(
        patient=patient, instrument=Instrument.PGIC, local_date__gt=end
    ).exists()
    return not (answered or asked)


def _claim(schedule: ReminderSchedule, *, now: dt.datetime) -> tuple[list[tuple[str, str]], Any]:
    """Claim today's reminders of one due schedule and move it on; returns (claimed, day).

    Each (patient, instrument, day) is claimed by inserting a SentDiaryReminder row: the unique
    constraint lets exactly one worker past, whichever runs first; the others find the row taken
    (IntegrityError inside a savepoint) and send nothing. The claim commits before the email goes
    out, so a crash in between loses that reminder rather than sending it twice (at-most-once,
    as for appointment reminders).
    """
    patient = schedule.patient
    zone = timing.patient_zone(patient)
    due_at = schedule.next_due_at
    assert due_at is not None
    day = timing.local_date_of(due_at, zone)
    kinds = timing.due_instruments(
        daily_nrs=schedule.daily_nrs,
        weekly_peg=schedule.weekly_peg,
        peg_weekday=schedule.peg_weekday,
        day=day,
    )
    send = (
        schedule.enabled
        and bool(patient.email)
        and now - due_at <= REMINDER_GRACE
        and not (schedule.paused_until is not None and day <= schedule.paused_until)
    )
    if send and _pgic_due(patient, day):
        kinds.append(Instrument.PGIC.value)
    claimed: list[tuple[str, str]] = []
    with transaction.atomic():
        if send:
            for kind in kinds:
                try:
                    with transaction.atomic():
                        SentDiaryReminder.objects.create(
                            patient=patient, instrument=kind, local_date=day
                        )
                except IntegrityError:
                    continue
                token = diary_link_issue(patient=patient, instrument=kind, entry_date=day, now=now)
                claimed.append((kind, token))
        # Conditional on the instant read, so two workers advance it once between them.
        ReminderSchedule.objects.filter(pk=schedule.pk, next_due_at=due_at).update(
            next_due_at=reminder_next_due(schedule, patient=patient, after=max(now, due_at))
        )
        if claimed:
            audit_record(
                actor=Actor(user=None),
                action=Action.CREATE,
                object_type="diary_reminder",
                object_id=schedule.pk,
                patient=patient,
                detail={"instruments": [k for k, _ in claimed], "date": day.isoformat()},
            )
    return claimed, day


def diary_reminders_send(*, now: dt.datetime | None = None) -> int:
    """Send every reminder that is due; returns how many emails went out.

    Safe to run at any time and from several workers at once (see ``_claim``). Works in batches
    until no schedule is due: every schedule handled moves its ``next_due_at`` past ``now`` (or
    to None), so it drops out of the next batch.
    """
    now = now or timezone.now()
    sent = 0
    for _ in range(MAX_BATCHES):
        batch = list(
            ReminderSchedule.objects.select_related("patient__home_location", "patient__clinic")
            .filter(enabled=True, next_due_at__lte=now)
            .order_by("next_due_at", "pk")[:REMINDER_BATCH]
        )
        if not batch:
            break
        for schedule in batch:
            claimed, day = _claim(schedule, now=now)
            if not claimed:
                continue
            try:
                emails.send_diary_reminder(schedule.patient, day=day, tokens=claimed)
            except Exception:  # a failed send must not stop the other patients' reminders
                log.exception("diary reminder email failed for schedule %s", schedule.pk)
                continue
            sent += 1
    return sent
