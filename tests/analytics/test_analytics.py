from __future__ import annotations

import csv
import io
from collections.abc import Callable

import numpy as np
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ketaclinic.analytics import selectors
from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.infusions.models import AdverseEvent
from ketaclinic.scheduling.models import Appointment
from tests.analytics.helpers import independent_series, km, seed
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
    expected = independent_series(world.clinic).set_index("series_id")
    # A series whose every session was missed has nothing to judge: in neither computation.
    assert len(data.rows) == len(expected) >= 75
    for row in data.rows:
        other = expected.loc[row.series_id]
        assert row.baseline == pytest.approx(other["baseline"])
        assert row.response == other["response"]
        if row.duration_weeks is None:
            assert np.isnan(other["duration"])
        else:
            assert row.duration_weeks == other["duration"]
            assert row.relapsed == other["event"]
    judged = expected[expected["response"].notna()]
    responders = judged["response"].isin(["substantial", "moderate"]).sum()
    assert (data.overall.judged, data.overall.responders) == (len(judged), responders)
    assert 0 < responders < len(judged)
    fitter = km(expected)
    ours = data.curves[0]
    assert ours.label == "All series"
    theirs = fitter.survival_function_.iloc[:, 0]
    assert ours.timeline == [float(t) for t in theirs.index]
    assert ours.survival == [float(v) for v in theirs]  # identical, not merely close
    relieved = expected[expected["duration"].notna()]
    assert ours.at_risk[0] == (0, len(relieved))
    assert ours.at_risk[2] == (8, int((relieved["duration"] >= 8).sum()))
    assert ours.events == int(relieved["event"].astype(bool).sum())
    # Adverse events per 100 sessions and no-shows, against plain counts.
    sessions = Appointment.objects.filter(clinic=world.clinic, status="completed").count()
    no_shows = Appointment.objects.filter(clinic=world.clinic, status="no_show").count()
    assert data.sessions == sessions
    assert data.adverse_events_per_100 == pytest.approx(
        100 * AdverseEvent.objects.count() / sessions
    )
    assert data.no_show_rate == pytest.approx(no_shows / (no_shows + sessions))
    by_cause = {row.label: row for row in data.by_cause}
    assert sum(row.series for row in by_cause.values()) == len(expected)
    assert data.by_protocol
    assert sum(r.series for r in data.by_protocol) == len(expected)


@pytest.mark.django_db
def test_filters_limit_series_by_date_and_location(world: World) -> None:
    seed(world.clinic, 40)
    everything = _analytics(world)
    starts = sorted(row.start_day for row in everything.rows)
    middle = starts[len(starts) // 2]
    later = _analytics(world, date_from=middle)
    assert 0 < len(later.rows) < len(starts)
    assert all(row.start_day >= middle for row in later.rows)
    earlier = _analytics(world, date_to=middle)
    assert all(row.start_day <= middle for row in earlier.rows)
    charlotte = world.clinic.locations.get(name="Charlotte")
    there = _analytics(world, location=charlotte)
    assert all(row.location_id == charlotte.pk for row in there.rows)
    cleveland = world.clinic.locations.get(name="Cleveland")
    assert len(there.rows) + len(_analytics(world, location=cleveland).rows) == len(starts)


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
    assert large <= 12


@pytest.mark.django_db
def test_page_shows_numbers_and_is_audited(world: World, client_for: ClientFor) -> None:
    seed(world.clinic, 30)
    client = client_for("clinic_admin")
    before = AuditEvent.objects.filter(object_type="clinic_analytics").count()
    response = client.get(URL)
    body = response.content.decode()
    assert response.status_code == 200
    for text in ("Responder rate by cause", "per 100 sessions", "At risk", "<polyline"):
        assert text in body
    assert "S7-" not in body  # no record numbers on an aggregate page
    assert (
        AuditEvent.objects.filter(object_type="clinic_analytics", action="read").count()
        == before + 1
    )


@pytest.mark.django_db
def test_csv_export_is_audited_and_carries_no_names(world: World, client_for: ClientFor) -> None:
    seed(world.clinic, 20)
    client = client_for("physician")
    response = client.get(URL + "export.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == list(selectors.CSV_COLUMNS)
    assert len(rows) == 21
    assert "S7-" not in response.content.decode()
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
    assert len(list(csv.reader(io.StringIO(response.content.decode())))) == 1
