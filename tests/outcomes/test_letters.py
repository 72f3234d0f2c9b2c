"""Progress letters: requested from the chart (audited), drawn by the worker as a PDF (text
checked with pypdf), downloaded by clinical staff only (audited)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.infusions.models import AdverseEvent
from ketaclinic.outcomes import letters
from ketaclinic.outcomes.models import Letter, LetterStatus
from ketaclinic.outcomes.tasks import letter_generate
from tests.conftest import World
from tests.infusions.helpers import bare_session
from tests.outcomes.helpers import relapse_history
from tests.plans.helpers import signed


def _text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    # Lines wrap wherever the page ends: compare on single spaces.
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


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
    assert letter.pdf is not None
    text = _text(bytes(letter.pdf))
    patient = diary_world.alice_patient
    assert f"Re: {patient.full_name}" in text
    assert "Plan 1, signed" in text
    assert "Ketamine" in text
    # The five sessions of the series, as observed.
    assert text.count("Completed") >= 5
    assert "Baseline pain (0-10): 8.0" in text
    assert "observed response: Substantial" in text
    assert "Pain returned above 70% of baseline from" in text
    assert "Nausea" in text
    assert "mild" in text
    assert "do not predict future relief" in text
    for promise in ("will relieve", "guarantee", "cure"):
        assert promise not in text.lower()


def test_the_letter_embeds_the_pain_chart(diary_world: World) -> None:
    relapse_history(diary_world, diary_world.alice_patient)
    content = letters.letter_pdf(diary_world.alice_patient)
    reader = PdfReader(io.BytesIO(content))
    # The SVG chart is drawn as vector paths with its axis label as text.
    assert "Pain (0 none - 10 worst)" in _text(content)
    assert len(reader.pages[0].get_contents().get_data()) > 5000  # type: ignore[union-attr]


def test_a_letter_without_plan_or_events_says_so(diary_world: World) -> None:
    text = _text(letters.letter_pdf(diary_world.alice_patient))
    assert "No signed treatment plan on record." in text
    assert "No infusion sessions on record." in text
    assert "No adverse events recorded." in text
    assert "No baseline pain score" in text


def test_a_failure_marks_the_letter_failed(
    diary_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    with transaction.atomic():
        letter = letters.letter_request(
            actor=Actor(user=diary_world.nurse), patient=diary_world.alice_patient
        )

    def broken(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError("font missing")

    monkeypatch.setattr(letters, "letter_pdf", broken)
    assert letters.letter_generate_now(letter_id=letter.pk) == "failed"
    letter.refresh_from_db()
    assert letter.status == LetterStatus.FAILED
    assert letter.error == "font missing"


def test_staff_download_the_ready_letter_and_it_is_audited(
    diary_world: World, client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    letter = _requested(diary_world, client_for("nurse"), django_capture_on_commit_callbacks)
    letters.letter_generate_now(letter_id=letter.pk)
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
    assert response.content.startswith(b"%PDF")
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
        letter = letters.letter_request(
            actor=Actor(user=diary_world.nurse), patient=diary_world.alice_patient
        )
    url = reverse("outcomes:staff_letter_pdf", kwargs={"public_id": letter.public_id})
    assert client_for("physician").get(url).status_code == 404
