"""Audited reads of the pain diary for the patient's and the clinician's pages.

Every read of diary data writes an audit event in the same transaction. The data itself comes
from the shared read (``outcomes.selectors.diary_unaudited``), so a page shows exactly what the
booster check and the letter judge.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.outcomes.models import DiaryEntry, DiaryLink, ReminderSchedule
from ketaclinic.outcomes.selectors import DiaryView, diary_unaudited
from ketaclinic.patients.models import Patient


def diary_view(
    *, actor: Actor, patient: Patient, audience: str, now: dt.datetime | None = None
) -> DiaryView:
    """Everything the diary page shows (``audience``: "patient" or "clinician"); one audit event.

    The caller has authorized ``actor`` for ``patient`` (``access_patient``).
    """
    with transaction.atomic():
        view = diary_unaudited(patient, now=now)
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="diary",
            object_id=patient.public_id,
            patient=patient,
            detail={
                "audience": audience,
                "entries": len(view.nrs) + len(view.peg) + len(view.pgic),
            },
        )
    return view


def diary_entry_for_day(
    *, actor: Actor, patient: Patient, instrument: str, day: dt.date
) -> DiaryEntry | None:
    """The patient's entry for one instrument and day, to prefill a correction; audited."""
    with transaction.atomic():
        entry = DiaryEntry.objects.filter(
            patient=patient, instrument=instrument, entry_date=day
        ).first()
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="diary_entry",
            object_id=entry.pk if entry is not None else "",
            patient=patient,
            detail={"instrument": instrument, "date": day.isoformat(), "found": entry is not None},
        )
    return entry


def reminder_schedule_for(*, actor: Actor, patient: Patient) -> ReminderSchedule | None:
    """The patient's reminder settings for the settings page; audited like any diary read."""
    with transaction.atomic():
        schedule = ReminderSchedule.objects.filter(patient=patient).first()
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="diary_reminder_schedule",
            object_id=schedule.pk if schedule is not None else "",
            patient=patient,
        )
    return schedule


def diary_link_read(*, actor: Actor, link: DiaryLink) -> DiaryLink:
    """The page an emailed diary link opens (often without a log-in): one read event naming the
    link's patient, so a forwarded or leaked link leaves a trace of every opening."""
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=Action.READ,
            object_type="diary_link",
            object_id=link.pk,
            patient=link.patient,
            detail={"instrument": link.instrument, "date": link.entry_date.isoformat()},
        )
    return link
