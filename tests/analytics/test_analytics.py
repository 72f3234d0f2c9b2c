from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ketaclinic.analytics import selectors
from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.infusions.models import AdverseEvent
from ketaclinic.outcomes.diary.selectors import diary_view
from ketaclinic.outcomes.models import SeriesResult
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling.models import Appointment
from tests.analytics.helpers import analyst_km, independent_series, seed
from tests.conftest import World

ClientFor = Callable[[str], Client]

URL = "/clinic/analytics/"


def _analytics(world: World, **filters: object) -> selectors.ClinicAnalytics:
    return selectors.clinic_analytics(
        actor=Actor(user=world.physician),
        clinic=world.clinic,
        filters=selectors.Filters(**filters),  # type: ignore[arg-type]
    )


@pytest.mark.django_db
def test_numbers_match_an_independent_pandas_and_lifelines_computation(world: World) -> None:
    seed(world.clinic, 80)
    data = _analytics(world)
    stored = {r.series_id: r for r in SeriesResult.objects.filter(clinic=world.clinic)}
    expected = independent_series(world.clinic)
    # A series whose every session was missed has nothing to judge: in neither computation.
    assert set(stored) == set(expected.index)
    assert len(stored) >= 75
    for series_id, other in expected.iterrows():
        ours = stored[series_id]
        assert ours.baseline is not None
        assert round(ours.baseline * 100) == other["c"]
        assert (ours.response or None) == other["response"]
        assert ours.responded == other["responded"]
        if ours.responded:
            assert ours.days_of_relief == other["days"]
            assert (ours.relapse_date is not None) == other["relapsed"]
    # The seeded outcomes are varied enough to test something.
    judged = expected[expected["response"].notna()]
    responders = judged["response"].isin(["substantial", "moderate"]).sum()
    assert (data.overall.judged, data.overall.responders) == (len(judged), responders)
    assert 0 < responders < len(judged)
    assert 0 < expected["relapsed"].sum() < expected["responded"].sum()
    # Kaplan-Meier: identical to lifelines on the analyst's durations, not merely close.
    timeline, survival = analyst_km(expected)
    ours_curve = data.curves[0]
    assert ours_curve.label == "All series"
    assert ours_curve.timeline == timeline
    assert ours_curve.survival == survival
    relieved = expected[expected["responded"]]
    assert ours_curve.at_risk[0] == (0, len(relieved))
    assert ours_curve.at_risk[2] == (8, int((relieved["days"] >= 56).sum()))
    assert ours_curve.events == int(relieved["relapsed"].sum())
    # Adverse events per 100 sessions and no-shows, against plain counts.
    sessions = Appointment.objects.filter(clinic=world.clinic, status="completed").count()
    no_shows = Appointment.objects.filter(clinic=world.clinic, status="no_show").count()
    assert data.sessions == sessions
    assert data.adverse_events_per_100 == pytest.approx(
        100 * AdverseEvent.objects.count() / sessions
    )
    assert data.no_show_rate == pytest.approx(no_shows / (no_shows + sessions))
    assert sum(row.series for row in data.by_cause) == len(expected)
    assert len(data.by_cause) > 1
    assert sum(r.series for r in data.by_protocol) == len(expected)


@pytest.mark.django_db
def test_stored_results_are_what_the_chart_shows(world: World) -> None:
    """The analytics and the clinician's chart judge a series the same way (one rule)."""
    seed(world.clinic, 12)
    for patient in Patient.objects.filter(clinic=world.clinic):
        view = diary_view(
            actor=Actor(user=world.physician),
            patient=patient,
            audience="clinician",
            now=dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC),
        )
        rows = list(SeriesResult.objects.filter(patient=patient).order_by("number"))
        assert len(rows) == len(view.outcomes)
        for row, outcome in zip(rows, view.outcomes, strict=True):
            assert row.baseline == view.baseline
            assert (row.response or None) == outcome.response
            lasting = outcome.durability
            assert lasting is not None
            assert (row.relapse_date, row.days_of_relief) == (
                lasting.relapse_date,
                lasting.days_of_relief,
            )


@pytest.mark.django_db
def test_filters_limit_series_by_date_and_location(world: World) -> None:
    seed(world.clinic, 40)
    everything = _analytics(world)
    results = SeriesResult.objects.filter(clinic=world.clinic)
    starts = sorted(results.values_list("start", flat=True))
    middle = starts[len(starts) // 2]
    assert everything.overall.series == len(starts)
    later = _analytics(world, date_from=middle)
    assert later.overall.series == results.filter(start__gte=middle).count()
    assert 0 < later.overall.series < len(starts)
    earlier = _analytics(world, date_to=middle)
    assert earlier.overall.series == results.filter(start__lte=middle).count()
    # Sessions are filtered by their local day through timestamp bounds (lib.when.day_bounds),
    # which must agree with a date cast of every row (the old way, the oracle here).
    given = Appointment.objects.filter(
        clinic=world.clinic, infusion_session__started_at__isnull=False
    )
    assert later.sessions == given.filter(start__date__gte=middle).count()
    assert earlier.sessions == given.filter(start__date__lte=middle).count()
    assert 0 < later.sessions < everything.sessions
    charlotte = world.clinic.locations.get(name="Charlotte")
    cleveland = world.clinic.locations.get(name="Cleveland")
    there = _analytics(world, location=charlotte)
    here = _analytics(world, location=cleveland)
    assert there.overall.series == results.filter(location=charlotte).count() > 0
    assert there.overall.series + here.overall.series == len(starts)


@pytest.mark.django_db
def test_a_new_daily_score_updates_the_stored_result(world: World) -> None:
    seed(world.clinic, 3)
    result = SeriesResult.objects.filter(clinic=world.clinic).order_by("pk").first()
    assert result is not None
    before = result.computed_at
    patient = result.patient
    from ketaclinic.outcomes.boosters.services import outcomes_refresh_changed
    from ketaclinic.outcomes.diary.services import diary_entry_record
    from tests.clock import today

    # The save marks the patient; the periodic refresh of what changed recomputes them alone.
    outcomes_refresh_changed(clinic=world.clinic)  # the seed's own marks, if any
    diary_entry_record(
        actor=Actor(user=None),
        patient=patient,
        instrument="nrs",
        entry_date=today(),
        answers={"pain": 4},
    )
    assert outcomes_refresh_changed(clinic=world.clinic).patients == 1
    after = SeriesResult.objects.get(patient=patient, number=result.number)
    assert after.computed_at > before
    assert AuditEvent.objects.filter(
        object_type="series_results", detail__patients=1, detail__changed_only=True
    ).exists()


def _page_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.django_db
def test_page_query_count_does_not_grow_with_the_data(world: World, client_for: ClientFor) -> None:
    client = client_for("physician")
    seed(world.clinic, 5, seed=1)
    small = _page_queries(client)
    seed(world.clinic, 60, seed=2)
    large = _page_queries(client)
    assert small == large
    # 15: the page (with the results' state, the analytics' cache key), plus the audit event's
    # two chain statements (lock the head, move it).
    assert large <= 15
    # Read again in the same state: the kept figures, without the five counting queries.
    assert _page_queries(client) == large - 5


def _no_shows(client: Client) -> str:
    body = client.get(URL).content.decode()
    return body.split("No-shows</h2>", 1)[1].split("</div>", 1)[0]


@pytest.mark.django_db
def test_figures_are_kept_until_the_refresh_takes_a_change(
    world: World, client_for: ClientFor
) -> None:
    from ketaclinic.outcomes.boosters.services import outcomes_refresh_changed
    from ketaclinic.outcomes.boosters.tasks import booster_suggestions_refresh_all
    from ketaclinic.scheduling.api import appointments_changed

    seed(world.clinic, 20)
    outcomes_refresh_changed(clinic=world.clinic)  # the seed's own marks
    client = client_for("physician")
    before = _analytics(world)
    shown = _no_shows(client)
    # An appointment turns into a no-show; scheduling announces it, which marks the patient.
    appointment = (
        Appointment.objects.filter(clinic=world.clinic, status="completed").order_by("pk").first()
    )
    assert appointment is not None
    Appointment.objects.filter(pk=appointment.pk).update(status="no_show")
    appointments_changed.send(sender=None, patient_ids=[appointment.patient_id])
    # Until the refresh takes the mark, the page shows the figures as they were kept.
    assert _analytics(world).no_shows == before.no_shows
    assert _no_shows(client) == shown
    # The periodic refresh takes it, and the worker draws the page's figures at once: the next
    # view counts nothing (ten queries, against fifteen when it counts).
    assert "of 1 patients" in booster_suggestions_refresh_all.call()
    assert _page_queries(client) == 10
    after = _analytics(world)
    assert (after.no_shows, after.attended) == (before.no_shows + 1, before.attended - 1)
    assert _no_shows(client) != shown
    # Filters are kept apart: a location's figures are not the whole clinic's.
    charlotte = world.clinic.locations.get(name="Charlotte")
    there = _analytics(world, location=charlotte)
    assert there.filters.location == charlotte
    assert there.overall.series < after.overall.series
    assert _analytics(world).overall.series == after.overall.series


@pytest.mark.django_db
def test_page_shows_numbers_and_is_audited(world: World, client_for: ClientFor) -> None:
    seed(world.clinic, 30)
    client = client_for("clinic_admin")
    before = AuditEvent.objects.filter(object_type="clinic_analytics").count()
    response = client.get(URL)
    body = response.content.decode()
    assert response.status_code == 200
    for text in ("Responder rate by cause", "per 100 sessions", 'data-testid="km-chart"'):
        assert text in body
    assert "S7-" not in body  # no record numbers on an aggregate page
    assert (
        AuditEvent.objects.filter(object_type="clinic_analytics", action="read").count()
        == before + 1
    )


def _streamed(response: Any) -> str:
    return b"".join(response.streaming_content).decode()


@pytest.mark.django_db
def test_csv_export_is_audited_and_carries_no_names(world: World, client_for: ClientFor) -> None:
    seed(world.clinic, 20)
    client = client_for("physician")
    response = client.get(URL + "export.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = _streamed(response)
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == list(selectors.CSV_COLUMNS)
    assert len(rows) == 21
    assert "S7-" not in body
    event = AuditEvent.objects.filter(object_type="clinic_analytics", action="export").get()
    assert event.detail["series"] == 20


@pytest.mark.django_db
def test_bad_filters_are_refused_clearly(world: World, client_for: ClientFor) -> None:
    client = client_for("physician")
    before = AuditEvent.objects.filter(object_type="clinic_analytics").count()
    response = client.get(URL, {"date_from": "2026-05-01", "date_to": "2026-04-01"})
    assert response.status_code == 400
    assert "Series to must be on or after Series from" in response.content.decode()
    response = client.get(URL, {"date_from": "not-a-date"})
    assert response.status_code == 400
    assert "Series from" in response.content.decode()
    # Another clinic's location is not a choice here.
    foreign = world.other_clinic.locations.get()
    response = client.get(URL + "export.csv", {"location": foreign.pk})
    assert response.status_code == 400
    assert "Location" in response.content.decode()
    assert AuditEvent.objects.filter(object_type="clinic_analytics").count() == before


@pytest.mark.django_db
def test_other_clinic_sees_none_of_our_series(world: World, client_for: ClientFor) -> None:
    seed(world.clinic, 10)
    response = client_for("other_physician").get(URL + "export.csv")
    assert response.status_code == 200
    assert len(list(csv.reader(io.StringIO(_streamed(response))))) == 1
    assert SeriesResult.objects.filter(clinic=world.clinic).count() == 10
