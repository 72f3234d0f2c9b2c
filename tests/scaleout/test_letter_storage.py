"""Progress letters' PDFs live in the default storage, not on the node or in the row (issue 17):
the worker stores the file, any web node streams it through the audited view, no media URL
serves it, and the migration moves the PDFs stored before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from ketaclinic.audit.models import AuditEvent
from ketaclinic.outcomes.letters import generation
from ketaclinic.outcomes.letters.pdf import letter_pdf
from ketaclinic.outcomes.models import Letter, LetterStatus
from tests.conftest import World
from tests.factories.outcomes import ready_letter

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    # A storage of this test's own, so what it lists is what it stored.
    settings.MEDIA_ROOT = tmp_path


def _queued(world: World) -> Letter:
    return Letter.objects.create(
        clinic=world.clinic, patient=world.alice_patient, requested_by=world.physician
    )


def test_the_worker_stores_the_pdf_under_the_letters_random_id(world: World) -> None:
    letter = _queued(world)
    assert generation.letter_generate_now(letter_id=letter.pk) == LetterStatus.READY
    letter.refresh_from_db()
    assert letter.pdf_file.name == f"letters/{letter.public_id}.pdf"
    # The patient's name is nowhere in the stored name.
    assert world.alice_patient.family_name not in letter.pdf_file.name
    with default_storage.open(letter.pdf_file.name, "rb") as stored:
        assert stored.read(5) == b"%PDF-"


def test_a_letter_finished_meanwhile_by_another_run_keeps_its_file_and_leaves_no_other(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    letter = _queued(world)

    def finished_by_another_worker(*args: Any, **kwargs: Any) -> bytes:
        content = letter_pdf(*args, **kwargs)
        theirs = ContentFile(b"%PDF-1 theirs")
        ready_name = default_storage.save(f"letters/{letter.public_id}.pdf", theirs)
        Letter.objects.filter(pk=letter.pk).update(
            status=LetterStatus.READY, pdf_file=ready_name, ready_at=letter.created_at
        )
        return content

    monkeypatch.setattr(f"{generation.__name__}.letter_pdf", finished_by_another_worker)
    assert generation.letter_generate_now(letter_id=letter.pk) == LetterStatus.READY
    letter.refresh_from_db()
    _, files = default_storage.listdir("letters")
    assert files == [f"{letter.public_id}.pdf"]
    assert not AuditEvent.objects.filter(object_type="progress_letter", action="update").exists()


def test_no_media_url_serves_a_letter(world: World, client_for: Any) -> None:
    letter = ready_letter(world)
    media_url = f"/{settings.MEDIA_URL.strip('/')}/{letter.pdf_file.name}".replace("//", "/")
    assert client_for("physician").get(media_url).status_code == 404
    # Only the audited view streams it.
    events = AuditEvent.objects.filter(object_type="progress_letter", action="export")
    assert not events.exists()
    url = reverse("outcomes:staff_letter_pdf", kwargs={"public_id": letter.public_id})
    response = client_for("physician").get(url)
    assert b"".join(response.streaming_content) == b"%PDF-1.4 test"
    assert events.count() == 1


def test_a_ready_letter_whose_file_is_gone_is_not_found_and_records_no_export(
    world: World, client_for: Any
) -> None:
    letter = ready_letter(world)
    default_storage.delete(letter.pdf_file.name)
    url = reverse("outcomes:staff_letter_pdf", kwargs={"public_id": letter.public_id})
    assert client_for("physician").get(url).status_code == 404
    assert not AuditEvent.objects.filter(object_type="progress_letter", action="export").exists()


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_stored_pdfs_to_the_storage_and_back(world: World) -> None:
    from django.db.migrations.executor import MigrationExecutor

    before = [("outcomes", "0004_results_marks")]
    executor = MigrationExecutor(connection)
    latest = [key for key in executor.loader.graph.leaf_nodes() if key[0] == "outcomes"]
    executor.migrate(before)
    old_letter = executor.loader.project_state(before).apps.get_model("outcomes", "Letter")
    common = {
        "clinic_id": world.clinic.pk,
        "patient_id": world.alice_patient.pk,
        "requested_by_id": world.physician.pk,
    }
    pdf = b"%PDF-1.4 stored in the row"
    ready = old_letter.objects.create(**common, status="ready", pdf=pdf, ready_at=timezone.now())
    queued = old_letter.objects.create(**common, status="queued")
    executor = MigrationExecutor(connection)
    executor.migrate(latest)

    moved = Letter.objects.get(pk=ready.pk)
    assert moved.pdf_file.name == f"letters/{moved.public_id}.pdf"
    with moved.pdf_file.open("rb") as stored:
        assert stored.read() == pdf
    assert Letter.objects.get(pk=queued.pk).pdf_file.name == ""

    # Reversible: the bytes go back into the row.
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old_letter = executor.loader.project_state(before).apps.get_model("outcomes", "Letter")
    assert bytes(old_letter.objects.get(pk=ready.pk).pdf) == pdf
    assert old_letter.objects.get(pk=queued.pk).pdf is None
    executor = MigrationExecutor(connection)
    executor.migrate(latest)
