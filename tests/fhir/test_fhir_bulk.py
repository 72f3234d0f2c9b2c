"""Bulk Data export (``$export``): kick-off, status, the worker's NDJSON files, the manifest,
download with the same token, ``_type`` and ``_since``, Group and Patient level, cancelling,
retention, and every refusal with nothing recorded."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import AuditEvent
from ketaclinic.fhir import bulk
from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.http import preferences
from ketaclinic.fhir.models import (
    BulkExport,
    BulkExportFile,
    BulkExportPatient,
    ExportStatus,
    PieceStatus,
)
from ketaclinic.fhir.resources.registry import REGISTRY
from ketaclinic.fhir.services import fhir_client_register
from ketaclinic.fhir.tasks import fhir_export_piece, fhir_export_run
from ketaclinic.lib import tasks
from ketaclinic.outcomes.models import DiaryEntry
from ketaclinic.patients.models import Patient
from tests.clock import today
from tests.conftest import World
from tests.factories import make_patient
from tests.factories.clinics import make_location
from tests.factories.sessions import signed_in_client
from tests.fhir.exports import run_export
from tests.fhir.test_fhir_observations import _diaries, _record
from tests.fhir.test_smart_oauth import _bearer, _client_credentials, _patient_app, _token_for
from tests.fhir.validate import valid

ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


def _backend_token(world: World, scope: str = "system/*.read") -> str:
    backend, secret = fhir_client_register(
        actor=Actor(user=world.clinic_admin), clinic=world.clinic, name="Registry", kind="backend"
    )
    response = _client_credentials(backend, secret, scope)
    assert response.status_code == 200
    token: str = response.json()["access_token"]
    return token


def _kickoff(
    path: str, token: str | None = None, client: Client | None = None, status: int = 202
) -> Any:
    headers = dict(ASYNC) | (_bearer(token) if token else {})
    response = (client or Client()).get(f"/fhir/R4/{path}", headers=headers)
    assert response.status_code == status, response.content[:300]
    return response


def _finished(
    response: Any, token: str | None = None, client: Client | None = None
) -> dict[str, Any]:
    """Run the export's job as the worker does and answer the manifest."""
    status_url = response["Content-Location"]
    browser = client or Client()
    headers = _bearer(token) if token else {}
    waiting = browser.get(status_url, headers=headers)
    assert waiting.status_code == 202
    assert waiting["Retry-After"]
    assert waiting["X-Progress"]
    export = BulkExport.objects.get(public_id=status_url.rstrip("/").rsplit("/", 1)[1])
    run_export(export.pk)
    return _finished_manifest(response, token, client)


def _finished_manifest(
    response: Any, token: str | None = None, client: Client | None = None
) -> dict[str, Any]:
    status_url = response["Content-Location"]
    headers = _bearer(token) if token else {}
    done = (client or Client()).get(status_url, headers=headers)
    assert done.status_code == 200, done.content[:300]
    manifest: dict[str, Any] = done.json()
    return manifest


def _lines(
    manifest: dict[str, Any], token: str | None = None, client: Client | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Every file's resources by type, each line parsed and validated."""
    found: dict[str, list[dict[str, Any]]] = {}
    for output in manifest["output"]:
        response = (client or Client()).get(output["url"], headers=_bearer(token) if token else {})
        assert response.status_code == 200
        assert response["Content-Type"] == "application/fhir+ndjson"
        text = response.getvalue().decode()
        resources = [valid(json.loads(line)) for line in text.splitlines()]
        assert len(resources) == output["count"]
        assert {r["resourceType"] for r in resources} == {output["type"]}
        found.setdefault(output["type"], []).extend(resources)
    return found


@pytest.mark.django_db(transaction=True)
def test_a_backend_exports_its_clinic_and_nothing_else(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    _alice, _peg, _bob = _diaries(world)
    token = _backend_token(world)
    with django_capture_on_commit_callbacks(execute=False):
        response = _kickoff("$export", token)
    manifest = _finished(response, token)
    assert manifest["requiresAccessToken"] is True
    assert manifest["request"].endswith("/fhir/R4/$export")
    exported = _lines(manifest, token)
    ours = {str(p.public_id) for p in Patient.objects.filter(clinic=world.clinic)}
    assert {r["id"] for r in exported["Patient"]} == ours
    diary = {str(e.public_id) for e in DiaryEntry.objects.filter(clinic=world.clinic)}
    assert diary <= {r["id"] for r in exported["Observation"]}
    other = str(world.other_patient.public_id)
    assert all(other not in json.dumps(rs) for rs in exported.values())
    # Every patient exported has one export event; none of another clinic.
    events = AuditEvent.objects.filter(object_type="fhir_export", action="export")
    assert sorted(e.patient_id or 0 for e in events) == sorted(
        Patient.objects.filter(clinic=world.clinic).values_list("pk", flat=True)
    )
    # Only this token's client may follow it: another backend of the clinic gets a 404.
    stranger = _backend_token(world)
    assert Client().get(response["Content-Location"], headers=_bearer(stranger)).status_code == 404
    url = manifest["output"][0]["url"]
    assert Client().get(url, headers=_bearer(stranger)).status_code == 404
    assert Client().get(url).status_code == 401


@pytest.mark.django_db
def test_type_and_since_choose_what_is_written(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    alice, _peg, _bob = _diaries(world)
    cut = timezone.now() - dt.timedelta(minutes=1)
    DiaryEntry.objects.update(updated_at=cut - dt.timedelta(minutes=1))
    DiaryEntry.objects.filter(pk=alice[0].pk).update(updated_at=cut + dt.timedelta(seconds=5))
    token = _backend_token(world)
    since = cut.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    with django_capture_on_commit_callbacks(execute=False):
        response = Client().get(
            "/fhir/R4/$export",
            {"_type": "Observation", "_since": since},
            headers=ASYNC | _bearer(token),
        )
    assert response.status_code == 202
    exported = _lines(_finished(response, token), token)
    assert list(exported) == ["Observation"]
    assert [r["id"] for r in exported["Observation"]] == [str(alice[0].public_id)]


@pytest.mark.django_db
def test_chunks_join_into_one_file_in_order(
    world: World, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    _diaries(world)
    monkeypatch.setattr(bulk, "CHUNK", 2)  # every type spans several chunks
    token = _backend_token(world)
    with django_capture_on_commit_callbacks(execute=False):
        response = _kickoff("$export?_type=Patient,Observation", token)
    exported = _lines(_finished(response, token), token)
    expected = DiaryEntry.objects.filter(clinic=world.clinic).order_by("pk")
    assert [r["id"] for r in exported["Observation"]] == [str(e.public_id) for e in expected]
    patients = Patient.objects.filter(clinic=world.clinic).order_by("pk")
    assert [r["id"] for r in exported["Patient"]] == [str(p.public_id) for p in patients]


def _export_in_pieces(world: World, monkeypatch: pytest.MonkeyPatch, capture: Any) -> Any:
    """A kick-off of the patients and their diaries, cut into files of two keys each; its job
    run, its files planned and not yet written."""
    _diaries(world)
    for n in range(4):
        _record(world.bob_patient, today() - dt.timedelta(days=1 + n), n)
    monkeypatch.setattr(bulk, "PIECE_SPAN", 2)
    token = _backend_token(world)
    with capture(execute=False):
        response = _kickoff("$export?_type=Patient,Observation", token)
    export = BulkExport.objects.get(public_id=response["Content-Location"].rsplit("/", 1)[1])
    assert fhir_export_run.call(export.pk).startswith("files to write: ")
    return response, token, export


@pytest.mark.django_db
def test_a_large_table_is_written_as_several_files_in_any_order_and_they_join_in_order(
    world: World, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    response, token, export = _export_in_pieces(
        world, monkeypatch, django_capture_on_commit_callbacks
    )
    pieces = list(export.files.order_by("-pk").values_list("pk", flat=True))
    assert len(pieces) > 3
    # Workers finish files in any order: the last one written, whichever, finishes the export.
    for written, pk in enumerate(pieces, start=1):
        assert fhir_export_piece.call(pk).endswith("resources")
        status = Client().get(response["Content-Location"], headers=_bearer(token))
        if written < len(pieces):
            assert status.status_code == 202
            assert status["X-Progress"].startswith(f"{written} of {len(pieces)} parts written")
    assert status.status_code == 200
    assert fhir_export_piece.call(pieces[0]) == "skipped: not waiting"  # a retried job
    manifest = status.json()
    observations = [o for o in manifest["output"] if o["type"] == "Observation"]
    assert len(observations) > 1  # the diary's table came in several files
    assert all(o["count"] > 0 for o in manifest["output"])  # an empty part lists no file
    exported = _lines(manifest, token)
    expected = DiaryEntry.objects.filter(clinic=world.clinic).order_by("pk")
    assert [r["id"] for r in exported["Observation"]] == [str(e.public_id) for e in expected]
    patients = Patient.objects.filter(clinic=world.clinic).order_by("pk")
    assert [r["id"] for r in exported["Patient"]] == [str(p.public_id) for p in patients]
    export.refresh_from_db()
    assert export.resources == sum(o["count"] for o in manifest["output"])


@pytest.mark.django_db
def test_a_file_that_fails_fails_the_export_and_leaves_no_file(
    world: World, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    response, token, export = _export_in_pieces(
        world, monkeypatch, django_capture_on_commit_callbacks
    )
    pieces = list(export.files.order_by("pk"))
    assert fhir_export_piece.call(pieces[0].pk).endswith("resources")  # a file already written
    assert default_storage.exists(BulkExportFile.objects.get(pk=pieces[0].pk).name)
    written = BulkExportFile.objects.get(pk=pieces[0].pk).name
    failing = pieces[1]

    def broken(*args: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(bulk, "_read_ahead", broken)
    with pytest.raises(RuntimeError):
        fhir_export_piece.call(failing.pk)
    monkeypatch.undo()
    export.refresh_from_db()
    assert export.status == ExportStatus.FAILED
    assert not BulkExportFile.objects.filter(export=export).exists()
    assert not default_storage.exists(written)
    # The files still queued find the export failed and write nothing.
    assert {fhir_export_piece.call(p.pk) for p in pieces[2:]} == {"skipped: not waiting"}
    status = Client().get(response["Content-Location"], headers=_bearer(token))
    assert status.status_code == 500
    assert status.json()["resourceType"] == "OperationOutcome"
    assert not BulkExportFile.objects.filter(status=PieceStatus.DONE).exists()


@pytest.mark.django_db
def test_an_export_whose_worker_died_fails_and_may_be_asked_again(
    world: World, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    response, token, export = _export_in_pieces(
        world, monkeypatch, django_capture_on_commit_callbacks
    )
    first, second, *_ = export.files.order_by("pk")
    assert fhir_export_piece.call(first.pk).endswith("resources")
    written = BulkExportFile.objects.get(pk=first.pk).name
    # A worker claimed the second file, then died with it.
    now = timezone.now()
    dying = BulkExportFile.objects.filter(pk=second.pk)
    dying.update(
        status=PieceStatus.WRITING, touched_at=now - bulk.STALLED_AFTER + dt.timedelta(minutes=1)
    )

    def status() -> Any:
        return Client().get(response["Content-Location"], headers=_bearer(token))

    assert status().status_code == 202  # still within the time a chunk could take
    assert Client().get("/fhir/R4/$export", headers=ASYNC | _bearer(token)).status_code == 429
    dying.update(touched_at=now - bulk.STALLED_AFTER - dt.timedelta(minutes=1))
    failed = status()
    assert failed.status_code == 500
    assert "Ask for it again" in failed.json()["issue"][0]["diagnostics"]
    export.refresh_from_db()
    assert export.status == ExportStatus.FAILED
    assert not BulkExportFile.objects.filter(export=export).exists()
    assert not default_storage.exists(written)
    # Its requester asks again, and the new export's job writes it.
    with django_capture_on_commit_callbacks(execute=False):
        again = _kickoff("$export?_type=Patient", token)
    assert _lines(_finished(again, token), token)["Patient"]


@pytest.mark.django_db
def test_the_hourly_job_fails_an_export_whose_own_job_died_before_planning(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    token = _backend_token(world)
    with django_capture_on_commit_callbacks(execute=False):
        response = _kickoff("$export?_type=Patient", token)
    export = BulkExport.objects.get(public_id=response["Content-Location"].rsplit("/", 1)[1])
    # Its job claimed it and last said it was alive (auditing) almost half an hour ago.
    alive = timezone.now() - bulk.STALLED_AFTER + dt.timedelta(minutes=1)
    BulkExport.objects.filter(pk=export.pk).update(
        status=ExportStatus.RUNNING, started_at=alive, touched_at=alive
    )
    assert bulk.export_purge() == 0
    export.refresh_from_db()
    assert export.status == ExportStatus.RUNNING  # auditing a large clinic takes a while
    later = timezone.now() + dt.timedelta(minutes=2)
    assert bulk.export_purge(now=later) == 0  # nothing expired, but the export failed
    export.refresh_from_db()
    assert export.status == ExportStatus.FAILED


@pytest.mark.django_db
def test_an_export_holds_the_record_as_it_was_asked_for_and_the_next_one_the_changes(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    alice, _peg, _bob = _diaries(world)
    token = _backend_token(world)
    with django_capture_on_commit_callbacks(execute=False):
        response = _kickoff("$export?_type=Patient,Observation", token)
    # After the kick-off, before the worker: a patient registers, an entry is corrected.
    late = make_patient(world.clinic, given="Late", family="Comer")
    changed = DiaryEntry.objects.get(pk=alice[0].pk)
    changed.note = "corrected"
    changed.save()
    manifest = _finished(response, token)
    exported = _lines(manifest, token)
    assert str(late.public_id) not in {r["id"] for r in exported["Patient"]}
    assert str(changed.public_id) not in {r["id"] for r in exported["Observation"]}
    events = AuditEvent.objects.filter(object_type="fhir_export", action="export")
    exported_patients = Patient.objects.filter(public_id__in=[r["id"] for r in exported["Patient"]])
    assert set(exported_patients.values_list("pk", flat=True)) <= set(
        events.values_list("patient_id", flat=True)
    )  # every patient exported was audited
    # The next export, from this one's transactionTime, holds what changed.
    Client().delete(response["Content-Location"], headers=_bearer(token))
    with django_capture_on_commit_callbacks(execute=False):
        following = Client().get(
            "/fhir/R4/$export",
            {"_type": "Patient,Observation", "_since": manifest["transactionTime"]},
            headers=ASYNC | _bearer(token),
        )
    assert following.status_code == 202
    later = _lines(_finished(following, token), token)
    assert {r["id"] for r in later["Observation"]} == {str(changed.public_id)}
    assert {r["id"] for r in later["Patient"]} == {str(late.public_id)}


@pytest.mark.django_db
def test_the_hourly_job_enqueues_lost_jobs_again_and_the_export_finishes(
    world: World, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    response, token, export = _export_in_pieces(
        world, monkeypatch, django_capture_on_commit_callbacks
    )
    # The files' jobs were lost (the queue was emptied): they wait, planned long ago.
    planned = timezone.now() - bulk.STALLED_AFTER - dt.timedelta(minutes=1)
    BulkExportFile.objects.filter(export=export).update(touched_at=planned)
    enqueued: list[tuple[str, tuple[Any, ...]]] = []
    real = tasks.enqueue

    def seen(path: str, *args: Any, **kwargs: Any) -> Any:
        enqueued.append((path, args))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(bulk, "enqueue", seen)
    assert bulk.export_purge() == 0
    waiting = set(export.files.values_list("pk", flat=True))
    assert {args[0] for path, args in enqueued if path.endswith("fhir_export_piece")} == waiting
    assert not export.files.filter(touched_at=planned).exists()  # not again next hour
    export.refresh_from_db()
    assert export.status == ExportStatus.RUNNING  # waiting is not dying
    for pk in sorted(waiting):
        fhir_export_piece.call(pk)
    assert Client().get(response["Content-Location"], headers=_bearer(token)).status_code == 200


@pytest.mark.django_db
def test_a_file_saved_by_a_job_that_died_before_recording_it_goes_with_its_export(
    world: World, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    _response, _token, export = _export_in_pieces(
        world, monkeypatch, django_capture_on_commit_callbacks
    )
    piece = export.files.order_by("pk").first()
    assert piece is not None

    def died(*args: Any) -> None:
        raise RuntimeError("the connection was lost")

    monkeypatch.setattr(bulk, "_finish_if_last", died)
    with pytest.raises(RuntimeError):
        fhir_export_piece.call(piece.pk)
    monkeypatch.undo()
    folder = f"fhir-export/{export.public_id}"
    assert default_storage.listdir(folder)[1]  # saved, its row never told
    bulk.export_purge(now=timezone.now() + bulk.STALLED_AFTER + dt.timedelta(minutes=1))
    export.refresh_from_db()
    assert export.status == ExportStatus.FAILED
    assert default_storage.listdir(folder)[1] == []


@pytest.mark.django_db
def test_cancelled_while_auditing_it_plans_nothing_and_stays_cancelled(
    world: World, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    _diaries(world)
    token = _backend_token(world)
    with django_capture_on_commit_callbacks(execute=False):
        response = _kickoff("$export?_type=Patient", token)
    export = BulkExport.objects.get(public_id=response["Content-Location"].rsplit("/", 1)[1])
    audit = bulk._audit_trail_reads

    def cancelled_meanwhile(reader: FhirReader, export: BulkExport) -> None:
        audit(reader, export)
        assert (
            Client().delete(response["Content-Location"], headers=_bearer(token)).status_code == 202
        )

    monkeypatch.setattr(bulk, "_audit_trail_reads", cancelled_meanwhile)
    assert fhir_export_run.call(export.pk) == "nothing to export"
    assert not BulkExportFile.objects.filter(export=export).exists()
    export.refresh_from_db()
    assert export.status == ExportStatus.CANCELLED


@pytest.mark.django_db
def test_a_group_is_a_locations_patients_and_a_patient_exports_only_her_own(
    world: World, client_for: Callable[[str], Client], django_capture_on_commit_callbacks: Any
) -> None:
    _diaries(world)
    token = _backend_token(world)
    location = world.alice_patient.home_location
    assert location is not None
    with django_capture_on_commit_callbacks(execute=False):
        response = _kickoff(f"Group/{location.public_id}/$export?_type=Patient", token)
    exported = _lines(_finished(response, token), token)
    members = Patient.objects.filter(clinic=world.clinic, home_location=location)
    assert {r["id"] for r in exported["Patient"]} == {str(p.public_id) for p in members}
    assert Patient.objects.filter(clinic=world.clinic).exclude(home_location=location).exists()

    alice = client_for("alice")
    with django_capture_on_commit_callbacks(execute=False):
        response = _kickoff("Patient/$export", client=alice)
    mine = _lines(_finished(response, client=alice), client=alice)
    assert {r["id"] for r in mine["Patient"]} == {str(world.alice_patient.public_id)}
    assert {r["subject"]["reference"] for r in mine["Observation"]} == {
        f"Patient/{world.alice_patient.public_id}"
    }
    assert "Organization" not in mine  # the patient compartment only


@pytest.mark.django_db
def test_a_group_export_holds_the_patients_it_audited_whoever_moves_meanwhile(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    _diaries(world)  # Alice (Cleveland) and Bob (Charlotte) each have entries
    token = _backend_token(world)
    with django_capture_on_commit_callbacks(execute=False):
        response = _kickoff(f"Group/{world.cleveland.public_id}/$export", token)
    export = BulkExport.objects.get(public_id=response["Content-Location"].rsplit("/", 1)[1])
    assert fhir_export_run.call(export.pk).startswith("files to write")  # audited and planned
    audited = set(
        AuditEvent.objects.filter(object_type="fhir_export", action="export").values_list(
            "patient_id", flat=True
        )
    )
    assert audited == {world.alice_patient.pk}
    # While the files wait for a worker, Bob moves to Cleveland and Alice to Charlotte.
    Patient.objects.filter(pk=world.bob_patient.pk).update(home_location=world.cleveland)
    Patient.objects.filter(pk=world.alice_patient.pk).update(home_location=world.charlotte)
    for pk in export.files.order_by("pk").values_list("pk", flat=True):
        fhir_export_piece.call(pk)
    exported = _lines(_finished_manifest(response, token), token)
    alice = f"Patient/{world.alice_patient.public_id}"
    assert DiaryEntry.objects.filter(patient=world.bob_patient).exists()  # his, left out
    # As the Group was at the kick-off: Alice, audited, and not Bob, who was not.
    assert {f"Patient/{r['id']}" for r in exported["Patient"]} == {alice}
    assert {r["subject"]["reference"] for r in exported["Observation"]} == {alice}
    assert audited == set(
        AuditEvent.objects.filter(object_type="fhir_export", action="export").values_list(
            "patient_id", flat=True
        )
    )  # no event was added or needed
    assert not BulkExportPatient.objects.filter(export=export).exists()  # done with


@pytest.mark.django_db
def test_refusals_name_the_problem_and_record_nothing(
    world: World, client_for: Callable[[str], Client]
) -> None:
    token = _backend_token(world)
    elsewhere = make_location(world.other_clinic, "Elsewhere")
    narrow = _backend_token(world, "system/Patient.read")
    browsers = [client_for(p) for p in ("physician", "nurse", "front_desk", "alice")]
    before = (BulkExport.objects.count(), AuditEvent.objects.count())
    checks = [
        ("$export", {"Accept": "application/fhir+json"}, 400, "respond-async"),
        ("$export?_type=Nonsense", ASYNC, 400, "_type"),
        ("$export?_outputFormat=text/csv", ASYNC, 400, "_outputFormat"),
        ("$export?_since=yesterday", ASYNC, 400, "_since"),
        ("$export?_since=2026-01-01T00:00:00", ASYNC, 400, "_since"),
        ("$export?_since=9999-12-31T23:59:59-05:00", ASYNC, 400, "_since"),
        ("Group/not-a-group/$export", ASYNC, 404, "Group"),
        (f"Group/{elsewhere.public_id}/$export", ASYNC, 404, "Group"),
        # Parameters that would narrow or shape the export: never ignored into a wider one.
        ("Patient/$export?_typeFilter=Observation%3Fcode%3Dpeg", ASYNC, 400, "_typeFilter"),
        (f"Patient/$export?patient=Patient/{world.alice_patient.public_id}", ASYNC, 400, "patient"),
        ("$export?_elements=id", ASYNC, 400, "_elements"),
        ("$export?includeAssociatedData=LatestProvenanceResources", ASYNC, 400, "include"),
    ]
    for path, headers, status, named in checks:
        response = Client().get(f"/fhir/R4/{path}", headers=headers | _bearer(token))
        assert response.status_code == status, (path, response.content[:200])
        assert named in response.json()["issue"][0]["diagnostics"], path
    assert Client().get("/fhir/R4/$export", headers=ASYNC).status_code == 401
    response = Client().get("/fhir/R4/$export?_type=Observation", headers=ASYNC | _bearer(narrow))
    assert response.status_code == 403
    # Staff other than the admin use the pages; a patient exports her own record only.
    for browser in browsers:
        assert browser.get("/fhir/R4/$export", headers=ASYNC).status_code == 403
    assert (BulkExport.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.django_db
def test_one_export_at_a_time_cancel_and_retention(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    _diaries(world)
    token = _backend_token(world)
    with django_capture_on_commit_callbacks(execute=False):
        first = _kickoff("$export?_type=Patient", token)
    again = Client().get("/fhir/R4/$export", headers=ASYNC | _bearer(token))
    assert again.status_code == 429
    assert BulkExport.objects.count() == 1
    # Cancelled while waiting: the job then writes nothing.
    cancelled = Client().delete(first["Content-Location"], headers=_bearer(token))
    assert cancelled.status_code == 202
    export = BulkExport.objects.get()
    assert fhir_export_run.call(export.pk) == "skipped: not waiting"
    assert Client().get(first["Content-Location"], headers=_bearer(token)).status_code == 404
    assert not BulkExportFile.objects.exists()

    with django_capture_on_commit_callbacks(execute=False):
        second = _kickoff("$export?_type=Patient", token)
    manifest = _finished(second, token)
    stored = BulkExportFile.objects.get()
    assert default_storage.exists(stored.name)
    export = stored.export
    assert export.expires_at is not None
    assert bulk.export_purge(now=export.expires_at - dt.timedelta(minutes=1)) == 0
    assert default_storage.exists(stored.name)
    assert bulk.export_purge(now=export.expires_at) == 1
    assert not default_storage.exists(stored.name)
    export.refresh_from_db()
    assert export.status == ExportStatus.EXPIRED
    assert Client().get(manifest["output"][0]["url"], headers=_bearer(token)).status_code == 404
    assert Client().get(second["Content-Location"], headers=_bearer(token)).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("type_name", ["Observation", "QuestionnaireResponse"])
def test_the_lean_export_rows_render_as_the_api_does_at_a_cost_flat_in_rows(
    type_name: str, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    _diaries(world)
    reader = FhirReader(user=None, clinic_id=world.clinic.pk, actor=Actor(user=None))
    kind = REGISTRY[type_name]
    assert kind.export_rows is not None  # the diary's tables read lean
    token = _backend_token(world)

    def export_queries() -> tuple[int, list[dict[str, Any]]]:
        with django_capture_on_commit_callbacks(execute=False):
            response = _kickoff(f"$export?_type={type_name}", token)
        export = BulkExport.objects.get(public_id=response["Content-Location"].rsplit("/", 1)[1])
        with CaptureQueriesContext(connection) as queries:
            run_export(export.pk)
        exported = _lines(_finished_manifest(response, token), token)[type_name]
        Client().delete(response["Content-Location"], headers=_bearer(token))
        return len(queries), exported

    few, exported = export_queries()
    # Each line is what a read of the same Observation answers.
    rendered = {
        str(row.public_id): part.to_fhir(row) for part in kind.parts for row in part.rows(reader)
    }
    assert exported
    assert all(resource == rendered[resource["id"]] for resource in exported)
    for n in range(10):
        _record(world.alice_patient, today() - dt.timedelta(days=10 + n), n)
    many, exported = export_queries()
    assert len(exported) >= 10 + len(rendered)
    assert many == few


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite's IMMEDIATE transactions serialise writers; the in-memory test database"
    " refuses a second concurrent writer outright instead of waiting",
)
@pytest.mark.django_db(transaction=True)
def test_two_kickoffs_at_once_make_one_export(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each kick-off pauses inside its transaction after recording its export, for the other
    to catch up (three seconds at most): without the requester's lock both would have found
    nothing unfinished and recorded an export each."""
    monkeypatch.setattr(bulk, "enqueue", lambda *args, **kwargs: None)
    barrier = threading.Barrier(2)
    recorded = audit_record  # what the kick-off calls, as bulk imported it

    def paused(*args: Any, **kwargs: Any) -> Any:
        event = recorded(*args, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=3)  # a kick-off held at the lock never arrives
        return event

    monkeypatch.setattr(bulk, "audit_record", paused)
    statuses: list[int] = []

    def kickoff() -> None:
        try:
            response = signed_in_client(world.clinic_admin).get("/fhir/R4/$export", headers=ASYNC)
            statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=kickoff) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [202, 429]
    assert BulkExport.objects.filter(user=world.clinic_admin).count() == 1


@pytest.mark.django_db
def test_prefer_is_read_as_rfc_7240_writes_it(
    world: World, client_for: Callable[[str], Client]
) -> None:
    assert preferences("Respond-Async; wait=10, handling=strict") == {
        "respond-async",
        "handling=strict",
    }
    assert preferences("") == set()
    token = _backend_token(world)
    response = Client().get(
        "/fhir/R4/$export?_type=Patient",
        headers={"Prefer": "Respond-Async; wait=10"} | _bearer(token),
    )
    assert response.status_code == 202, response.content[:200]
    assert BulkExport.objects.count() == 1
    strict = client_for("physician").get(
        "/fhir/R4/Patient?shoe-size=9", headers={"Prefer": "return=minimal, Handling = Strict"}
    )
    assert strict.status_code == 400


@pytest.mark.django_db
def test_an_apps_narrower_token_fetches_no_file_beyond_it_and_disconnect_ends_its_exports(
    world: World, client_for: Callable[[str], Client], django_capture_on_commit_callbacks: Any
) -> None:
    _diaries(world)
    app = _patient_app(world)
    alice = client_for("alice")
    wide = _token_for(alice, app, "patient/*.read launch/patient")["access_token"]
    with django_capture_on_commit_callbacks(execute=False):
        kicked = _kickoff("Patient/$export", wide)
    files = {output["type"]: output["url"] for output in _finished(kicked, wide)["output"]}
    # Let in again with her Patient resource only, the app's new token fetches that file and
    # not the Observations, which its scopes do not name.
    narrow = _token_for(alice, app, "patient/Patient.read")["access_token"]
    assert Client().get(files["Patient"], headers=_bearer(narrow)).status_code == 200
    downloads = AuditEvent.objects.filter(object_type="fhir_export_file")
    fetched = downloads.count()
    refused = Client().get(files["Observation"], headers=_bearer(narrow))
    assert refused.status_code == 403
    assert "Observation" in refused.json()["issue"][0]["diagnostics"]
    assert downloads.count() == fetched  # no download was recorded
    # She disconnects the app: its exports for her go with its tokens.
    assert alice.post(f"/me/apps/{app.pk}/disconnect/", {"confirmed": "1"}).status_code == 302
    export = BulkExport.objects.get(user=world.alice)
    assert export.status == ExportStatus.EXPIRED
    assert not BulkExportFile.objects.filter(export=export).exists()
    assert default_storage.listdir(f"fhir-export/{export.public_id}")[1] == []
    again = _token_for(alice, app, "patient/*.read launch/patient")["access_token"]
    assert Client().get(files["Patient"], headers=_bearer(again)).status_code == 404
