"""Progress letters: requested from the chart (audited), drawn by the worker as a PDF (text
checked with pypdf), downloaded by clinical staff only (audited)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.infusions.models import AdverseEvent, InfusionSession, SessionStatus
from ketaclinic.outcomes.letters import generation, services
from ketaclinic.outcomes.letters.pdf import letter_pdf
from ketaclinic.outcomes.letters.tasks import letter_generate
from ketaclinic.outcomes.models import Letter, LetterStatus
from ketaclinic.patients.models import Patient
from tests.clock import NEW_YORK
from tests.conftest import World
from tests.factories.infusions import bare_session, day_at
from tests.factories.outcomes import relapse_history
from tests.factories.plans import signed


def _text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    # Lines wrap wherever the page ends: compare on single spaces.
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def _sessions(text: str) -> str:
    """The letter's "Infusion sessions" section."""
    return text.split("Infusion sessions ", 1)[1].split(" Adverse events and alerts", 1)[0]


def _day(session: InfusionSession) -> str:
    moment = session.started_at or session.arrived_at
    return f"{timezone.localtime(moment, NEW_YORK):%d %b %Y}"


def _given(world: World, *, days_ago: int, adverse: int = 0, **fields: Any) -> InfusionSession:
    """A finished session written straight to the table, 40 minutes at 52.5 mg/h."""
    start = timezone.now() - dt.timedelta(days=days_ago)
    values: dict[str, Any] = {
        "status": SessionStatus.DISCHARGED,
        "arrived_at": start - dt.timedelta(minutes=30),
        "started_at": start,
        "ended_at": start + dt.timedelta(minutes=40),
        "rate_since": start + dt.timedelta(minutes=40),
        "current_rate_mg_per_h": 0.0,
        "given_before_mg": 35.0,
        "plan_total_mg": 35.0,
        "discharged_at": start + dt.timedelta(minutes=80),
        "discharged_by": world.nurse,
    }
    values.update(fields)
    session = bare_session(world, world.alice_patient, None, **values)
    for _ in range(adverse):
        AdverseEvent.objects.create(
            session=session,
            kind="dizziness",
            severity="mild",
            onset_at=start + dt.timedelta(minutes=20),
            outcome="resolved",
            recorded_by=world.nurse,
        )
    return session


def _full_history(world: World) -> None:
    relapse_history(world, world.alice_patient)
    signed(world, world.alice_patient)
    session = bare_session(world, world.alice_patient, None)
    AdverseEvent.objects.create(
        session=session,
        kind="nausea_vomiting",
        severity="mild",
        onset_at=timezone.now() - dt.timedelta(days=61),
        interventions=["ondansetron"],
        outcome="resolved",
        recorded_by=world.nurse,
    )


def _requested(world: World, client: Any, capture: Any) -> Letter:
    with capture(execute=False):
        response = client.post(
            reverse(
                "outcomes:staff_patient_letters",
                kwargs={"public_id": world.alice_patient.public_id},
            )
        )
    assert response.status_code == 302
    return Letter.objects.get()


def test_a_letter_is_requested_audited_and_drawn_by_the_worker(
    diary_world: World, client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _full_history(diary_world)
    letter = _requested(diary_world, client_for("physician"), django_capture_on_commit_callbacks)
    assert letter.status == LetterStatus.QUEUED
    assert AuditEvent.objects.filter(
        object_type="progress_letter", action="create", actor=diary_world.physician
    ).exists()
    assert letter_generate.call(letter.pk) == "ready"
    letter.refresh_from_db()
    assert letter.status == LetterStatus.READY
    assert letter.pdf_file
    with letter.pdf_file.open("rb") as stored:
        text = _text(stored.read())
    patient = diary_world.alice_patient
    assert f"Re: {patient.full_name}" in text
    assert "Plan 1, signed" in text
    assert "Ketamine" in text
    # The series' five sessions were given (charted without pump rates); today's has not started.
    series_days = InfusionSession.objects.filter(
        patient=patient, started_at__isnull=False
    ).order_by("started_at")
    arrived = InfusionSession.objects.get(patient=patient, started_at__isnull=True)
    assert _sessions(text) == (
        "5 infusion sessions given. "
        + "".join(
            f"{_day(s)}, Cleveland: discharged; dose given not recorded, infused over 40 min. "
            for s in series_days
        )
        + f"{_day(arrived)}, Cleveland: arrived; the infusion has not started. "
        "1 adverse event, see below."
    )
    assert "Baseline pain (0-10): 8.0" in text
    assert "observed response: Substantial" in text
    assert "Pain returned above 70% of baseline from" in text
    assert "Nausea" in text
    assert "mild" in text
    assert "do not predict future relief" in text
    for promise in ("will relieve", "guarantee", "cure"):
        assert promise not in text.lower()


def test_the_letter_lists_the_sessions_given_not_the_appointments(diary_world: World) -> None:
    # Five "completed" infusion appointments with nothing charted: no session was given.
    relapse_history(diary_world, diary_world.alice_patient, session="none")
    deferred = _given(
        diary_world,
        days_ago=3,
        status=SessionStatus.DEFERRED,
        started_at=None,
        ended_at=None,
        rate_since=None,
        current_rate_mg_per_h=None,
        given_before_mg=0.0,
        plan_total_mg=None,
        discharged_at=None,
        discharged_by=None,
        deferred_reason="Blood pressure 182/104 at the pre-infusion check.",
    )
    # Imported without pump rates (as the seeder writes them): the dose is unknown, not 0 mg.
    imported = _given(
        diary_world,
        days_ago=2,
        rate_since=None,
        current_rate_mg_per_h=None,
        given_before_mg=0.0,
        plan_total_mg=None,
    )
    # Today's, through the infusion-day services: started at 5.25 mL/h (52.5 mg/h), stopped
    # 40 minutes later, discharged; the pump's running total is what the letter reports.
    day = day_at(diary_world, "discharged")
    done = day.reload()
    assert done.ended_at is not None
    assert done.started_at is not None
    minutes = round((done.ended_at - done.started_at).total_seconds() / 60)
    dose = f"{round(done.given_before_mg, 1):g}"
    assert 34 <= done.given_before_mg <= 36
    AdverseEvent.objects.create(
        session=done,
        kind="nausea_vomiting",
        severity="mild",
        onset_at=done.started_at + dt.timedelta(minutes=10),
        outcome="resolved",
        recorded_by=diary_world.nurse,
    )

    text = _text(letter_pdf(diary_world.alice_patient))

    assert _sessions(text) == (
        "2 infusion sessions given, 1 deferred. "
        f"{_day(deferred)}, Cleveland: deferred before the start; no ketamine given. "
        f"{_day(imported)}, Cleveland: discharged; dose given not recorded, infused over 40 min. "
        f"{_day(done)}, Cleveland: discharged; ketamine {dose} mg given (planned 35 mg), "
        f"infused over {minutes} min. 1 adverse event, see below."
    )
    assert "Completed" not in text
    assert "Nausea" in text  # the event itself, under its own heading


def test_an_evening_adverse_event_is_dated_on_the_clinic_day(diary_world: World) -> None:
    session = _given(diary_world, days_ago=5)
    evening = timezone.localtime(session.arrived_at, NEW_YORK).replace(hour=21, minute=30)
    AdverseEvent.objects.create(
        session=session,
        kind="headache",
        severity="mild",
        onset_at=evening,  # 01:30 or 02:30 UTC, the next day
        outcome="resolved",
        recorded_by=diary_world.nurse,
    )
    text = _text(letter_pdf(diary_world.alice_patient))
    assert f"{evening:%d %b %Y %H:%M}: adverse event: Headache, mild." in text
    assert f"{evening.astimezone(dt.UTC):%d %b %Y}" not in text.split("Adverse events", 1)[1]


def test_a_session_in_progress_shows_the_dose_so_far(diary_world: World) -> None:
    day = day_at(diary_world, "infusing")
    session = day.reload()
    assert session.rate_since is not None
    # 20 minutes at 52.5 mg/h.
    text = _text(
        letter_pdf(diary_world.alice_patient, now=session.rate_since + dt.timedelta(minutes=20))
    )
    assert _sessions(text) == (
        f"1 infusion session given. {_day(session)}, Cleveland: infusing (in progress); "
        "ketamine 17.5 mg given so far (planned 35 mg)."
    )


def test_the_letter_takes_as_many_queries_for_many_sessions_as_for_one(
    diary_world: World,
) -> None:
    relapse_history(diary_world, diary_world.alice_patient, session="none")
    signed(diary_world, diary_world.alice_patient)
    _given(diary_world, days_ago=10, adverse=1)
    # A fresh patient row each time, as the worker loads it: nothing cached from the first run.
    letter_pdf(Patient.objects.get(pk=diary_world.alice_patient.pk))  # the brand, now cached
    with CaptureQueriesContext(connection) as one:
        letter_pdf(Patient.objects.get(pk=diary_world.alice_patient.pk))
    for days_ago in (9, 8, 7, 6):
        _given(diary_world, days_ago=days_ago, adverse=2)
    with CaptureQueriesContext(connection) as five:
        text = _text(letter_pdf(Patient.objects.get(pk=diary_world.alice_patient.pk)))
    assert _sessions(text).startswith("5 infusion sessions given. ")
    assert _sessions(text).count("ketamine 35 mg given (planned 35 mg), infused over 40 min.") == 5
    assert len(five.captured_queries) == len(one.captured_queries)


def test_the_letter_embeds_the_pain_chart(diary_world: World) -> None:
    relapse_history(diary_world, diary_world.alice_patient)
    content = letter_pdf(diary_world.alice_patient)
    reader = PdfReader(io.BytesIO(content))
    # The SVG chart is drawn as vector paths with its axis label as text.
    assert "Pain (0 none - 10 worst)" in _text(content)
    chart_page = next(p for p in reader.pages if "Pain (0 none - 10 worst)" in p.extract_text())
    assert len(chart_page.get_contents().get_data()) > 5000  # type: ignore[union-attr]


def test_a_letter_without_plan_or_events_says_so(diary_world: World) -> None:
    text = _text(letter_pdf(diary_world.alice_patient))
    assert "No signed treatment plan on record." in text
    assert "No infusion sessions on record." in text
    assert "No adverse events or alerts recorded." in text
    assert "No baseline pain score" in text


def test_a_failure_marks_the_letter_failed(
    diary_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    with transaction.atomic():
        letter = services.letter_request(
            actor=Actor(user=diary_world.nurse), patient=diary_world.alice_patient
        )

    def broken(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError("font missing")

    monkeypatch.setattr(generation, "letter_pdf", broken)
    assert generation.letter_generate_now(letter_id=letter.pk) == "failed"
    letter.refresh_from_db()
    assert letter.status == LetterStatus.FAILED
    assert letter.error == "font missing"


def test_staff_download_the_ready_letter_and_it_is_audited(
    diary_world: World, client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    letter = _requested(diary_world, client_for("nurse"), django_capture_on_commit_callbacks)
    generation.letter_generate_now(letter_id=letter.pk)
    listing = client_for("nurse").get(
        reverse(
            "outcomes:staff_patient_letters",
            kwargs={"public_id": diary_world.alice_patient.public_id},
        )
    )
    url = reverse("outcomes:staff_letter_pdf", kwargs={"public_id": letter.public_id})
    assert url in listing.content.decode()
    response = client_for("physician").get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    # Streamed from the storage, as an attachment nobody caches.
    assert response.streaming
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert response["Content-Disposition"] == (
        f'attachment; filename="progress-letter-{letter.created_at:%Y-%m-%d}.pdf"'
    )
    assert "no-store" in response["Cache-Control"]
    assert AuditEvent.objects.filter(
        object_type="progress_letter", action="export", actor=diary_world.physician
    ).exists()


@pytest.mark.parametrize("persona", ["front_desk", "other_physician", "alice"])
def test_others_cannot_request_a_letter(diary_world: World, client_for: Any, persona: str) -> None:
    audit = AuditEvent.objects.count()
    response = client_for(persona).post(
        reverse(
            "outcomes:staff_patient_letters",
            kwargs={"public_id": diary_world.alice_patient.public_id},
        )
    )
    assert response.status_code == 404
    assert not Letter.objects.exists()
    assert AuditEvent.objects.count() == audit


def test_a_queued_letter_is_not_downloadable(diary_world: World, client_for: Any) -> None:
    with transaction.atomic():
        letter = services.letter_request(
            actor=Actor(user=diary_world.nurse), patient=diary_world.alice_patient
        )
    url = reverse("outcomes:staff_letter_pdf", kwargs={"public_id": letter.public_id})
    assert client_for("physician").get(url).status_code == 404
