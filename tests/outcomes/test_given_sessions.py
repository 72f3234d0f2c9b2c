"""Given means given (docs/clinical-policy.md "Gates along the journey (added 2026-12-03)",
item 10): a session counts once its pump started. Deferred, missed and cancelled sessions never
count in series, baselines, PGIC timing, outcomes, letters, boosters or stored results."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.urls import reverse
from pypdf import PdfReader

from ketaclinic.audit.services import Actor
from ketaclinic.outcomes.boosters import services as boosters
from ketaclinic.outcomes.diary import selectors
from ketaclinic.outcomes.durability import services as results
from ketaclinic.outcomes.letters.pdf import letter_pdf
from ketaclinic.outcomes.models import BoosterSuggestion, SeriesResult
from ketaclinic.outcomes.selectors import SeriesSpan, infusion_series_for_patient
from ketaclinic.scheduling.models import AppointmentStatus
from tests.clock import today
from tests.conftest import World
from tests.factories.outcomes import infusions, relapse_history
from tests.factories.scheduling import induction_series


def _days(start: dt.date, count: int) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range(count)]


def _letter_text(world: World) -> str:
    reader = PdfReader(io.BytesIO(letter_pdf(world.alice_patient)))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_five_booked_of_which_two_started_is_a_series_of_two_ending_on_the_second(
    diary_world: World,
) -> None:
    patient = diary_world.alice_patient
    days = _days(today() - dt.timedelta(days=20), 5)
    series = induction_series(diary_world, patient)
    infusions(diary_world, patient, days[:2], series=series)
    # The third was deferred at the pre-check, the fourth missed, the fifth cancelled.
    infusions(
        diary_world,
        patient,
        days[2:3],
        series=series,
        status=AppointmentStatus.ARRIVED,
        session="deferred",
    )
    infusions(diary_world, patient, days[3:4], series=series, status=AppointmentStatus.NO_SHOW)
    infusions(diary_world, patient, days[4:], series=series, status=AppointmentStatus.CANCELLED)

    assert infusion_series_for_patient(patient) == [
        SeriesSpan(
            start=days[0],
            end=days[1],
            sessions=(days[0], days[1]),
            ongoing=False,
            series_id=series.pk,
            location_id=diary_world.cleveland.pk,
        )
    ]
    assert results.series_results_refresh_patient(patient=patient) == 1
    assert list(SeriesResult.objects.values_list("number", "start", "end", "sessions")) == [
        (1, days[0], days[1], 2)
    ]


def test_two_given_and_three_still_booked_is_an_ongoing_series_ending_on_the_second(
    diary_world: World,
) -> None:
    patient = diary_world.alice_patient
    days = _days(today() - dt.timedelta(days=2), 5)
    series = induction_series(diary_world, patient)
    infusions(diary_world, patient, days[:2], series=series)
    # Today's and the next two: booked, not started yet.
    infusions(diary_world, patient, days[2:], series=series, status=AppointmentStatus.BOOKED)
    (span,) = infusion_series_for_patient(patient)
    assert (span.start, span.end, span.sessions, span.ongoing) == (
        days[0],
        days[1],
        (days[0], days[1]),
        True,
    )


def test_a_booked_session_whose_day_passed_without_a_start_is_not_given(
    diary_world: World,
) -> None:
    infusions(
        diary_world,
        diary_world.alice_patient,
        [today() - dt.timedelta(days=3)],
        status=AppointmentStatus.BOOKED,
    )
    # "Completed" on the schedule with nothing charted: not given either.
    infusions(
        diary_world,
        diary_world.alice_patient,
        [today() - dt.timedelta(days=2)],
        session="none",
    )
    assert infusion_series_for_patient(diary_world.alice_patient) == []


def test_loose_sessions_group_by_the_gap_between_given_ones(diary_world: World) -> None:
    start = today() - dt.timedelta(days=60)
    infusions(diary_world, diary_world.alice_patient, [start, start + dt.timedelta(days=20)])
    # A deferred session between them does not bridge the 20-day gap.
    infusions(
        diary_world,
        diary_world.alice_patient,
        [start + dt.timedelta(days=10)],
        status=AppointmentStatus.ARRIVED,
        session="deferred",
    )
    spans = infusion_series_for_patient(diary_world.alice_patient)
    assert [(s.start, s.end, s.sessions) for s in spans] == [
        (start, start, (start,)),
        (
            start + dt.timedelta(days=20),
            start + dt.timedelta(days=20),
            (start + dt.timedelta(days=20),),
        ),
    ]


def test_a_deferred_only_patient_has_no_series_baseline_result_letter_line_or_booster(
    diary_world: World, client_for: Any
) -> None:
    # The diary of a relapse after a five-day series, but every session was deferred.
    relapse_history(
        diary_world,
        diary_world.alice_patient,
        status=AppointmentStatus.ARRIVED,
        session="deferred",
    )
    patient = diary_world.alice_patient

    view = selectors.diary_view(
        actor=Actor(user=diary_world.physician), patient=patient, audience="clinician"
    )
    assert (view.series, view.baseline, view.baseline_source, view.outcomes, view.pgic_due) == (
        [],
        None,
        "",
        [],
        None,
    )
    assert results.series_results_refresh_patient(patient=patient) == 0
    assert SeriesResult.objects.count() == 0
    assert boosters.booster_suggestion_for_patient(patient=patient) is None
    assert BoosterSuggestion.objects.count() == 0
    text = _letter_text(diary_world)
    assert "0 infusion sessions given, 5 deferred." in text
    assert (
        "Observed response No baseline pain score is available, so the response cannot be "
        "classified."
    ) in text
    assert "Series 1" not in text
    html = client_for("alice").get(reverse("outcomes:my_diary")).content.decode()
    assert "Your infusion series ended" not in html
