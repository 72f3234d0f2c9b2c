"""Given means given, walked through the pages.

docs/clinical-policy.md "Gates along the journey (added 2026-12-03)", item 10: a session counts
as given once its pump started. A patient whose sessions were all deferred (the earlier ones
charted so, today's deferred by the nurse on the chart page) has no series anywhere: not on the
patient's diary, not on the clinician's diary, not in the booster queue, not in the progress
letter and not in the clinic analytics. Each step leaves its audit event.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
from django.urls import reverse
from pypdf import PdfReader

from ketaclinic.audit.models import AuditEvent
from ketaclinic.infusions.models import InfusionSession, SessionStatus
from ketaclinic.outcomes.boosters import services as boosters
from ketaclinic.outcomes.durability import services as results
from ketaclinic.outcomes.letters.tasks import letter_generate
from ketaclinic.outcomes.models import BoosterSuggestion, Letter, SeriesResult
from ketaclinic.scheduling.models import AppointmentStatus
from ketaclinic.scheduling.signals import appointments_changed
from tests.conftest import World
from tests.factories.infusions import arrive, day_at
from tests.factories.outcomes import relapse_history
from tests.factories.patients import registered_since

pytestmark = pytest.mark.django_db


def _words(content: bytes) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", content.decode()).split())


def _pdf_words(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def _audited(object_type: str, action: str) -> int:
    return AuditEvent.objects.filter(object_type=object_type, action=action).count()


def _deferred_everywhere(world: World, client_for: Any) -> None:
    """Five earlier sessions deferred (with the diary of a relapse after them), and today's
    deferred by the nurse on the chart page."""
    registered_since(world.alice_patient, 120)
    relapse_history(
        world, world.alice_patient, status=AppointmentStatus.ARRIVED, session="deferred"
    )
    day = arrive(world)
    before = _audited("infusion_session", "update")
    response = client_for("nurse").post(
        reverse(
            "infusions:session_action",
            kwargs={"public_id": day.session.public_id, "action": "defer"},
        ),
        {"defer-version": day.v, "defer-reason": "Blood pressure 172/104 on two readings."},
    )
    assert response.status_code == 302
    assert day.reload().status == SessionStatus.DEFERRED
    assert _audited("infusion_session", "update") == before + 1


def test_deferred_sessions_leave_no_series_on_any_page(
    world: World, client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _deferred_everywhere(world, client_for)
    assert InfusionSession.objects.filter(patient=world.alice_patient).count() == 6
    assert not InfusionSession.objects.filter(started_at__isnull=False).exists()

    # The patient's diary: no "series ended" question, no baseline line on the chart.
    reads = _audited("diary", "read")
    page = _words(client_for("alice").get(reverse("outcomes:my_diary")).content)
    assert "Your infusion series ended" not in page
    assert "your pain before the first infusion" not in page
    # The clinician's diary: no baseline, no series row.
    staff = client_for("physician").get(
        reverse("outcomes:staff_patient_diary", args=[world.alice_patient.public_id])
    )
    assert "Baseline (NRS) Not yet: no infusion given" in _words(staff.content)
    assert 'data-testid="series-1"' not in staff.content.decode()
    assert _audited("diary", "read") == reads + 2

    # The booster queue: the 6-hourly check finds no relapse to suggest.
    assert boosters.booster_suggestions_refresh(clinic=world.clinic) == 0
    assert not BoosterSuggestion.objects.exists()
    queue = client_for("physician").get(reverse("outcomes:staff_boosters"))
    assert world.alice_patient.full_name not in queue.content.decode()

    # The progress letter: sessions listed as deferred, no series judged.
    with django_capture_on_commit_callbacks(execute=False):
        requested = client_for("physician").post(
            reverse("outcomes:staff_patient_letters", args=[world.alice_patient.public_id])
        )
    assert requested.status_code == 302
    letter = Letter.objects.get()
    assert _audited("progress_letter", "create") == 1
    assert letter_generate.call(letter.pk) == "ready"
    letter.refresh_from_db()
    assert letter.pdf_file
    with letter.pdf_file.open("rb") as stored:
        text = _pdf_words(stored.read())
    assert "0 infusion sessions given, 6 deferred." in text
    assert "No baseline pain score is available, so the response cannot be classified." in text
    assert "Series 1" not in text

    # The clinic analytics: no series stored, none counted, no session given.
    assert results.series_results_refresh(clinic=world.clinic) == 0
    assert not SeriesResult.objects.exists()
    analytics = _words(client_for("physician").get(reverse("analytics:clinic")).content)
    assert "0 of 0 judged series (of 0)" in analytics
    assert "0 events in 0 sessions given." in analytics


def test_a_started_session_is_a_series_everywhere(world: World, client_for: Any) -> None:
    # The allowed path beside the gate: the same history with the sessions given.
    registered_since(world.alice_patient, 120)
    relapse_date = relapse_history(world, world.alice_patient)
    staff = client_for("physician").get(
        reverse("outcomes:staff_patient_diary", args=[world.alice_patient.public_id])
    )
    assert 'data-testid="series-1"' in staff.content.decode()
    assert boosters.booster_suggestions_refresh(clinic=world.clinic) == 1
    suggestion = BoosterSuggestion.objects.get()
    assert suggestion.relapse_date == relapse_date
    assert suggestion.series_end == relapse_date - dt.timedelta(days=34)
    assert _audited("booster_suggestion", "create") == 1
    assert results.series_results_refresh(clinic=world.clinic) == 1
    assert list(SeriesResult.objects.values_list("sessions", "responded")) == [(5, True)]


@pytest.mark.parametrize("step", ["start", "defer"])
def test_a_start_or_a_deferral_on_the_chart_recomputes_the_patients_results(
    world: World, client_for: Any, django_capture_on_commit_callbacks: Any, step: str
) -> None:
    heard: list[list[int]] = []

    def listener(sender: object, patient_ids: list[int], **kwargs: object) -> None:
        heard.append(list(patient_ids))

    appointments_changed.connect(listener, weak=False)
    try:
        day = day_at(world, "precheck")
        day.draw()
        day.precheck()  # baseline vitals in the 15 min before the start
        heard.clear()
        url = reverse(
            "infusions:session_action",
            kwargs={"public_id": day.session.public_id, "action": step},
        )
        data = (
            {"version": day.v, "rate_ml_per_h": "5.25"}
            if step == "start"
            else {"defer-version": day.v, "defer-reason": "Blood pressure 172/104 twice."}
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for("nurse").post(url, data)
        assert response.status_code == 302
        assert heard == [[world.alice_patient.pk]]
    finally:
        appointments_changed.disconnect(listener)
