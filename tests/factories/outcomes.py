"""Outcome histories: infusions given on chosen days, diary entries written straight to the
table (fast, for charts and query counts), a relapse after a series, and the booster suggestion
and letter rows the authorization matrix reaches."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Literal

from django.core.files.base import ContentFile
from django.utils import timezone

from ketaclinic.audit.services import Actor
from ketaclinic.outcomes.boosters import services as boosters
from ketaclinic.outcomes.models import (
    NRS_LOINC,
    BoosterSuggestion,
    DiaryEntry,
    Letter,
    LetterStatus,
)
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.models import Appointment, AppointmentStatus, InductionSeries
from tests.clock import NEW_YORK, today
from tests.factories.assessments import ensure_eligible
from tests.factories.infusions import charted_session
from tests.factories.scheduling import infusion_appointment
from tests.factories.world import World

Charted = Literal["given", "deferred", "none"]


def infusions(
    world: World,
    patient: Patient,
    days: Iterable[dt.date],
    *,
    status: str = AppointmentStatus.COMPLETED,
    series: InductionSeries | None = None,
    at: dt.time = dt.time(10, 0),
    session: Charted | None = None,
) -> list[Appointment]:
    """Infusion appointments on ``days``. A completed one comes with its session charted as
    given (started, stopped, discharged: only a started session counts as given) unless
    ``session`` says otherwise: "given" or "deferred" (sent home before the start) charts such a
    session whatever the status, "none" charts nothing."""
    if session is None:
        session = "given" if status == AppointmentStatus.COMPLETED else "none"
    rows = []
    for day in days:
        appointment = infusion_appointment(
            world,
            patient,
            provider=world.nurse,
            start=dt.datetime.combine(day, at, tzinfo=NEW_YORK),
            recovery_min=30,
            buffer_min=30,
            status=status,
            series=series,
        )
        if session != "none":
            charted_session(world, appointment, given=session == "given")
        rows.append(appointment)
    return rows


def nrs_entries(patient: Patient, values: dict[dt.date, int]) -> None:
    DiaryEntry.objects.bulk_create(
        DiaryEntry(
            clinic_id=patient.clinic_id,
            patient=patient,
            instrument="nrs",
            entry_date=day,
            answers={"pain": value},
            score=float(value),
            loinc=NRS_LOINC,
            source="portal",
        )
        for day, value in values.items()
    )


def relapse_history(
    world: World,
    patient: Patient,
    *,
    at: dt.time = dt.time(10, 0),
    status: str = AppointmentStatus.COMPLETED,
    session: Charted | None = None,
) -> dt.date:
    """Baseline 8 the week before a 5-day series (days T-63..T-59), pain 2 after it, then 8 from
    T-29: the window mean first stays above 0.7 x 8 on T-25 (4 eights and 3 twos: 44/7 = 6.3),
    so durability reports the relapse on T-25 (when the sessions were given: ``status`` and
    ``session`` as for ``infusions``). Returns that date."""
    t = today()
    day = dt.timedelta(days=1)
    infusions(
        world,
        patient,
        [t - 63 * day + n * day for n in range(5)],
        at=at,
        status=status,
        session=session,
    )
    values = {t - n * day: 8 for n in range(64, 71)}
    values.update({t - n * day: 2 for n in range(30, 59)})
    values.update({t - n * day: 8 for n in range(1, 30)})
    nrs_entries(patient, values)
    return t - 25 * day


def suggestion_for(world: World, *, approved: bool) -> BoosterSuggestion:
    """A booster suggestion for Alice after a relapse five days ago, approved if asked."""
    suggestion = BoosterSuggestion.objects.create(
        clinic=world.clinic,
        patient=world.alice_patient,
        series_end=today() - dt.timedelta(days=40),
        relapse_date=today() - dt.timedelta(days=5),
        baseline=8.0,
        window_means={},
        source="test",
    )
    if approved:
        # A booster is offered only under an eligibility decision in force (gate 1).
        ensure_eligible(world.alice_patient, world.physician)
        suggestion = boosters.booster_suggestion_approve(
            actor=Actor(user=world.physician), suggestion=suggestion
        )
    return suggestion


def ready_letter(world: World) -> Letter:
    """A ready letter whose PDF is in the default storage (tests: a directory of the run)."""
    letter = Letter(
        clinic=world.clinic,
        patient=world.alice_patient,
        requested_by=world.physician,
        status=LetterStatus.READY,
        ready_at=timezone.now(),
    )
    letter.pdf_file.save(f"letters/{letter.public_id}.pdf", ContentFile(b"%PDF-1.4 test"))
    return letter
