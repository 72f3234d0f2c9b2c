"""The patient's and the clinician's diary pages: infusion series, baseline, response class and
durability from ``clinical.outcomes``, the SVG chart, audit events and bounded queries."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ketaclinic.assessments.models import Consultation
from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.outcomes.diary import selectors
from ketaclinic.outcomes.diary.charts import pain_chart_svg
from ketaclinic.outcomes.selectors import SeriesSpan, infusion_series_for_patient
from ketaclinic.scheduling.models import AppointmentStatus
from tests.clock import today
from tests.conftest import World
from tests.factories.outcomes import infusions, nrs_entries
from tests.factories.patients import registered_since
from tests.factories.scheduling import induction_series


def _days(start: dt.date, count: int) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range(count)]


class Story:
    """Alice: pain 8 the week before five infusions, 3 for a month after, then 8 again."""

    def __init__(self, world: World) -> None:
        self.t0 = today() - dt.timedelta(days=60)
        self.sessions = _days(self.t0, 5)
        self.series = series = induction_series(world, world.alice_patient)
        infusions(world, world.alice_patient, self.sessions, series=series)
        values = dict.fromkeys(_days(self.t0 - dt.timedelta(days=7), 7), 8)
        values.update(dict.fromkeys(_days(self.t0 + dt.timedelta(days=5), 26), 3))
        values.update(dict.fromkeys(_days(self.t0 + dt.timedelta(days=31), 15), 8))
        nrs_entries(world.alice_patient, values)
        self.end = self.sessions[-1]


@pytest.fixture
def story(diary_world: World) -> Story:
    return Story(diary_world)


# --- series -----------------------------------------------------------------------------------


def test_sessions_booked_as_a_series_form_one_series(diary_world: World, story: Story) -> None:
    spans = infusion_series_for_patient(diary_world.alice_patient)
    assert spans == [
        SeriesSpan(
            start=story.t0,
            end=story.end,
            sessions=tuple(story.sessions),
            ongoing=False,
            series_id=story.series.pk,
            location_id=story.series.location_id,
        )
    ]


def test_loose_infusions_within_14_days_form_one_series(diary_world: World) -> None:
    start = today() - dt.timedelta(days=90)
    first = [start, start + dt.timedelta(days=7), start + dt.timedelta(days=21)]  # gaps 7, 14
    booster = [start + dt.timedelta(days=36)]  # 15 days later: a new series
    infusions(diary_world, diary_world.alice_patient, first + booster)
    # Cancelled and missed sessions are not treatment.
    infusions(
        diary_world,
        diary_world.alice_patient,
        [start + dt.timedelta(days=50)],
        status=AppointmentStatus.CANCELLED,
    )
    infusions(
        diary_world,
        diary_world.alice_patient,
        [start + dt.timedelta(days=51)],
        status=AppointmentStatus.NO_SHOW,
    )
    spans = infusion_series_for_patient(diary_world.alice_patient)
    assert [(s.start, s.end, len(s.sessions), s.series_id) for s in spans] == [
        (first[0], first[-1], 3, None),
        (booster[0], booster[0], 1, None),
    ]


def test_a_series_with_sessions_still_to_come_is_ongoing(diary_world: World) -> None:
    days = _days(today() - dt.timedelta(days=2), 5)
    series = induction_series(diary_world, diary_world.alice_patient)
    infusions(diary_world, diary_world.alice_patient, days[:3], series=series)
    infusions(
        diary_world,
        diary_world.alice_patient,
        days[3:],
        series=series,
        status=AppointmentStatus.BOOKED,
    )
    (span,) = infusion_series_for_patient(diary_world.alice_patient)
    assert (span.start, span.end, span.ongoing) == (days[0], days[2], True)


def test_other_patients_infusions_are_not_counted(diary_world: World) -> None:
    infusions(diary_world, diary_world.bob_patient, [today() - dt.timedelta(days=3)])
    assert infusion_series_for_patient(diary_world.alice_patient) == []


# --- baseline, response, durability ------------------------------------------------------------


def test_baseline_response_and_relapse_follow_the_clinical_rules(
    diary_world: World, story: Story
) -> None:
    view = selectors.diary_view(
        actor=Actor(user=diary_world.physician),
        patient=diary_world.alice_patient,
        audience="clinician",
    )
    assert (view.baseline, view.baseline_source) == (8.0, "diary")
    (outcome,) = view.outcomes
    assert outcome.followup == 3.0
    assert outcome.response == "substantial"
    assert outcome.durability is not None
    assert outcome.durability.responded
    # The first day with 4 of 7 diary days after the series end.
    assert outcome.durability.response_date == story.end + dt.timedelta(days=4)
    # 8s resume on t0+31; the window mean passes 5.6 once 4 of its 7 days are 8s.
    assert outcome.durability.relapse_date == story.t0 + dt.timedelta(days=34)
    assert outcome.durability.days_of_relief == 30
    assert outcome.durability.censored is False


def test_without_a_diary_week_the_intake_nrs_is_the_baseline(diary_world: World) -> None:
    start = today() - dt.timedelta(days=30)
    infusions(diary_world, diary_world.alice_patient, _days(start, 3))
    Consultation.objects.create(
        clinic=diary_world.clinic,
        patient=diary_world.alice_patient,
        exam_date=start - dt.timedelta(days=10),
        pain_nrs=7,
        created_by=diary_world.physician,
    )
    # A later consultation does not change the baseline of an earlier series.
    Consultation.objects.create(
        clinic=diary_world.clinic,
        patient=diary_world.alice_patient,
        exam_date=start + dt.timedelta(days=10),
        pain_nrs=2,
        created_by=diary_world.physician,
    )
    # After the series: 4 (7 -> 4 is a 43% reduction).
    nrs_entries(diary_world.alice_patient, dict.fromkeys(_days(start + dt.timedelta(days=3), 7), 4))
    view = selectors.diary_view(
        actor=Actor(user=diary_world.nurse), patient=diary_world.alice_patient, audience="clinician"
    )
    assert (view.baseline, view.baseline_source) == (7.0, "intake")
    assert view.outcomes[0].response == "moderate"


def test_a_later_series_is_judged_on_entries_before_the_next_one(diary_world: World) -> None:
    t0 = today() - dt.timedelta(days=80)
    infusions(diary_world, diary_world.alice_patient, [t0])
    booster = t0 + dt.timedelta(days=30)
    infusions(diary_world, diary_world.alice_patient, [booster])
    values = dict.fromkeys(_days(t0 - dt.timedelta(days=7), 7), 6)
    values.update(dict.fromkeys(_days(t0 + dt.timedelta(days=1), 29), 5))  # little relief
    values.update(dict.fromkeys(_days(booster + dt.timedelta(days=1), 20), 2))  # booster helps
    nrs_entries(diary_world.alice_patient, values)
    view = selectors.diary_view(
        actor=Actor(user=diary_world.physician),
        patient=diary_world.alice_patient,
        audience="clinician",
    )
    first, second = view.outcomes
    assert (first.followup, first.response) == (5.0, "minimal")
    assert first.durability is not None
    assert first.durability.responded is False
    assert (second.followup, second.response) == (2.0, "substantial")
    assert second.durability is not None
    assert second.durability.censored is True


# --- the pages --------------------------------------------------------------------------------


def test_the_patient_sees_their_chart_and_their_response_in_plain_words(
    diary_world: World, story: Story, client_for: Any
) -> None:
    response = client_for("alice").get(reverse("outcomes:my_diary"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="pain-chart"' in html
    assert "Your pain was 8.0 out of 10 in the week before your first infusion" in html
    assert "averaged 3.0 out of 10: lower by about 62%" in html
    assert "a drop of half or more is called a substantial change" in html
    assert "back near its earlier level" in html
    assert "they are not a diagnosis" in html
    # The patient's chart shows the infusions but not the clinician's relapse threshold.
    assert ">Infusion<" in html
    assert "Relapse level" not in html
    event = AuditEvent.objects.get(object_type="diary")
    assert (event.action, event.actor_id, event.detail) == (
        "read",
        diary_world.alice.pk,
        {"audience": "patient", "entries": 48},
    )


def test_before_any_infusion_the_patient_is_told_what_the_page_will_show(
    diary_world: World, client_for: Any
) -> None:
    nrs_entries(diary_world.alice_patient, {today(): 6})
    html = client_for("alice").get(reverse("outcomes:my_diary")).content.decode()
    assert "Once your infusions start" in html
    assert "You recorded a pain of <strong>6</strong> today" in html


def test_the_clinician_sees_baseline_response_class_and_relapse(
    diary_world: World, story: Story, client_for: Any
) -> None:
    response = client_for("nurse").get(
        reverse("outcomes:staff_patient_diary", args=[diary_world.alice_patient.public_id])
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "8.0 <span" in html
    assert "7 days before the first infusion" in html
    assert "Substantial (≥ 50% reduction)" in html
    relapse = story.t0 + dt.timedelta(days=34)
    assert f"Relapse {relapse.day} {relapse:%b %Y}" in html
    assert ">30<" in html  # days of relief
    assert "Relapse level 5.6" in html  # the chart's threshold line
    event = AuditEvent.objects.get(object_type="diary")
    assert (event.actor_id, event.patient_id, event.detail["audience"]) == (
        diary_world.nurse.pk,
        diary_world.alice_patient.pk,
        "clinician",
    )


def test_a_censored_series_shows_relief_lasting_to_the_last_entry(
    diary_world: World, client_for: Any
) -> None:
    t0 = today() - dt.timedelta(days=20)
    infusions(diary_world, diary_world.alice_patient, [t0])
    values = dict.fromkeys(_days(t0 - dt.timedelta(days=7), 7), 6)
    values.update(dict.fromkeys(_days(t0 + dt.timedelta(days=1), 10), 2))
    nrs_entries(diary_world.alice_patient, values)
    html = (
        client_for("physician")
        .get(reverse("outcomes:staff_patient_diary", args=[diary_world.alice_patient.public_id]))
        .content.decode()
    )
    assert "None yet (censored at last entry)" in html
    assert ">10+<" in html
    patient_html = client_for("alice").get(reverse("outcomes:my_diary")).content.decode()
    assert "So far your pain has stayed lower than before" in patient_html


@pytest.mark.parametrize("persona", ["front_desk", "other_physician", "alice"])
def test_the_clinician_page_is_not_found_outside_clinical_access(
    diary_world: World, story: Story, client_for: Any, persona: str
) -> None:
    before = AuditEvent.objects.count()
    response = client_for(persona).get(
        reverse("outcomes:staff_patient_diary", args=[diary_world.alice_patient.public_id])
    )
    assert response.status_code == 404
    assert AuditEvent.objects.count() == before


def test_the_clinician_page_of_another_clinics_patient_is_not_found(
    diary_world: World, client_for: Any
) -> None:
    response = client_for("physician").get(
        reverse("outcomes:staff_patient_diary", args=[diary_world.other_patient.public_id])
    )
    assert response.status_code == 404


def _page_queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    ("persona", "url_of", "expected"),
    [
        # 13: the twelve of the chart plus one for the booster offers shown above it.
        ("alice", lambda w: reverse("outcomes:my_diary"), 15),
        (
            "physician",
            lambda w: reverse("outcomes:staff_patient_diary", args=[w.alice_patient.public_id]),
            13,
        ),
    ],
    ids=["patient", "clinician"],
)
def test_the_chart_pages_cost_the_same_queries_for_10_or_1000_entries(
    world: World, client_for: Any, persona: str, url_of: Any, expected: int
) -> None:
    registered_since(world.alice_patient, 1100)
    start = today() - dt.timedelta(days=1050)
    infusions(world, world.alice_patient, _days(start + dt.timedelta(days=10), 5))
    infusions(world, world.alice_patient, [start + dt.timedelta(days=500)])
    client = client_for(persona)
    url = url_of(world)
    nrs_entries(world.alice_patient, {d: n % 11 for n, d in enumerate(_days(start, 10))})
    small = _page_queries(client, url)
    nrs_entries(
        world.alice_patient,
        {d: n % 11 for n, d in enumerate(_days(start + dt.timedelta(days=10), 990))},
    )
    large = _page_queries(client, url)
    assert (small, large) == (expected, expected)


# --- the chart itself -------------------------------------------------------------------------


def test_the_chart_is_a_named_scalable_svg_with_the_infusions_marked() -> None:
    day = dt.date(2026, 5, 4)
    svg = pain_chart_svg(
        nrs=[(day + dt.timedelta(days=n), float(n % 10)) for n in range(30)],
        peg=[(day + dt.timedelta(days=7), 5.0)],
        series=[SeriesSpan(start=day, end=day + dt.timedelta(days=4), sessions=(day,))],
        baseline=7.5,
        threshold=5.25,
        relapses=[day + dt.timedelta(days=20)],
        today=day + dt.timedelta(days=30),
        label="Pain <chart> & co",
    )
    root = ET.fromstring(svg)  # noqa: S314  (our own output: well-formed XML, no prolog)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.attrib["role"] == "img"
    assert root.attrib["aria-label"] == "Pain <chart> & co"
    assert "width" not in root.attrib
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"Infusion", "Daily pain (0-10)", "Weekly PEG", "Baseline 7.5", "Relapse"} <= texts


def test_drawing_a_chart_never_touches_pyplot() -> None:
    code = (
        "import sys, datetime as dt, django, os;"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'ketaclinic.settings');"
        "os.environ['KETACLINIC_MODE'] = 'test'; django.setup();"
        "from ketaclinic.outcomes.diary.charts import pain_chart_svg;"
        "pain_chart_svg(nrs=[(dt.date(2026, 1, 1), 5.0)], today=dt.date(2026, 1, 9));"
        "print('matplotlib.pyplot' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
