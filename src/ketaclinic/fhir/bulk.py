"""Bulk Data export (FHIR Bulk Data Access IG 2.0, ``$export``): asking, writing, following,
fetching, cancelling and deleting.

The kick-off records a ``BulkExport`` with the reader as the request made it and enqueues the
worker's job. That job gives every patient whose record the export holds one audit event
(written with the chunk of patients it belongs to), then cuts each table of each type into
files of ``PIECE_SPAN`` primary keys and enqueues a job per file, so that every worker the
clinic runs takes a share. Each file's job writes NDJSON through the storage API, reading in
keyset chunks of ``CHUNK`` rows (a short transaction each), so a worker's memory stays the same
whatever the clinic's size; the last file written finishes the export. An export holds the
record as it was at the kick-off (IG: ``transactionTime``): each file reads the rows up to its
table's last key when the export was planned, changed no later than the kick-off, and the
tables' keys are taken before the audit, so every patient exported was audited. The files are
deleted ``FHIR_EXPORT_RETENTION_HOURS`` after the export finished (``export_purge``, hourly,
which also enqueues lost jobs again and fails exports whose worker died).

What is exported is what the requester may read through the API, no more: the job rebuilds the
same ``FhirReader`` (the user or the OAuth client, the clinic, the token's scopes) and reads
every type through its own ``rows``. Patient- and Group-level exports hold the types of the
patient compartment only (those with a patient); a Group is one of the clinic's locations, and
its members the patients whose home it is.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, connections, transaction
from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.utils import timezone

from ketaclinic.accounts.models import Role, User
from ketaclinic.audit.api import Actor, audit_record, audit_record_many
from ketaclinic.audit.models import Action
from ketaclinic.clinics.models import Location
from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.http import FhirError
from ketaclinic.fhir.models import (
    BulkExport,
    BulkExportFile,
    BulkExportPatient,
    ExportLevel,
    ExportStatus,
    FhirClient,
    PieceStatus,
)
from ketaclinic.fhir.resources.base import ResourceType
from ketaclinic.fhir.resources.registry import REGISTRY
from ketaclinic.lib.tasks import FHIR_EXPORT_PIECE, FHIR_EXPORT_RUN, enqueue

log = logging.getLogger(__name__)

#: Rows read per query: large enough that the round trips cost little, small enough that a
#: chunk's resources are a few megabytes in the worker.
CHUNK = 2000
#: Primary keys of a table per file: a file of the diary's table, the largest, is then about
#: half a million resources, and a 100,000-patient clinic's export some sixty files that the
#: clinic's workers write side by side (each file is a job of its own).
PIECE_SPAN = 1_000_000
NEWLINE = orjson.OPT_APPEND_NEWLINE
#: A file's job says it is alive every 25 chunks, seconds apart; one silent this long died with
#: its worker (killed, its machine lost), and so did an export's own job that planned nothing.
STALLED_AFTER = dt.timedelta(minutes=30)
#: What ``_outputFormat`` may ask for (the IG's abbreviations included): NDJSON only.
NDJSON_FORMATS = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})
#: A client polls its status no more often than this (``Retry-After``).
POLL_SECONDS = 10
UNFINISHED = (ExportStatus.QUEUED, ExportStatus.RUNNING)


@dataclass(frozen=True)
class ExportRequest:
    """A kick-off's parameters, read from the request."""

    level: str
    group: str = ""
    types: str = ""  # _type, comma-separated
    since: str = ""  # _since, an instant
    output_format: str = ""
    request_url: str = ""
    respond_async: bool = True  # the request said ``Prefer: respond-async``
    others: tuple[str, ...] = ()  # any other parameter the kick-off named


#: The kick-off's parameters read here; any other is refused (``export_request``).
KICKOFF_PARAMS = frozenset({"_type", "_since", "_outputFormat", "_format"})


def exportable(kind: ResourceType, level: str) -> bool:
    """Types read from tables (not computed on request), and at Patient or Group level those
    of the patient compartment only."""
    if getattr(kind, "computed", None) is not None:
        return False
    return level == ExportLevel.SYSTEM or kind.patient_of is not None


def _may_export(reader: FhirReader, level: str) -> None:
    """Registered systems and the clinic's admins export at every level; a patient (her app,
    or her session) exports her own record; other staff use the pages and searches."""
    user = reader.user
    if user is None or user.role == Role.CLINIC_ADMIN:
        return
    if user.is_patient:
        if level != ExportLevel.PATIENT:
            raise FhirError(403, "A patient exports her own record: use Patient/$export.")
        return
    raise FhirError(403, "Bulk export is for the clinic's admins and its registered systems.")


def _types(reader: FhirReader, level: str, raw: str) -> list[str]:
    if not raw:
        return sorted(
            name
            for name, kind in REGISTRY.items()
            if exportable(kind, level) and reader.may_read(name)
        )
    wanted = [name.strip() for name in raw.split(",") if name.strip()]
    for name in wanted:
        kind = REGISTRY.get(name)
        if kind is None or not exportable(kind, level):
            raise FhirError(
                400,
                f"_type: {name[:60]} is not exported at this level (see /metadata).",
                code="not-supported",
                expression="_type",
            )
        if not reader.may_read(name):
            raise FhirError(
                403, f"The access token's scopes do not include reading {name}.", code="forbidden"
            )
    return sorted(set(wanted))


def _since(raw: str) -> dt.datetime | None:
    if not raw:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is not None and moment.tzinfo is not None:
        try:
            return moment.astimezone(dt.UTC)  # the database keeps UTC: past year 9999 is none
        except OverflowError:
            pass
    raise FhirError(
        400, "_since: an instant with its zone, e.g. 2026-01-31T09:00:00Z.", expression="_since"
    )


def _client_of(reader: FhirReader) -> FhirClient | None:
    if not reader.client:
        return None
    return FhirClient.objects.get(application__client_id=reader.client)


def export_request(*, reader: FhirReader, asked: ExportRequest) -> BulkExport:
    """Record an export and enqueue its job; a 4xx ``FhirError`` for what cannot be exported,
    and nothing recorded."""
    _may_export(reader, asked.level)
    if not asked.respond_async:
        raise FhirError(400, "A bulk export answers later: send Prefer: respond-async.")
    if asked.others:
        # _typeFilter, patient, _elements, includeAssociatedData...: each would narrow or shape
        # the export, so ignoring one would hand over more than was asked for (IG 2.0: a server
        # may refuse what it does not support).
        raise FhirError(
            400,
            f"{asked.others[0][:40]}: not supported by this server's export (it reads _type,"
            " _since and _outputFormat).",
            code="not-supported",
            expression=asked.others[0][:40],
        )
    if asked.output_format and asked.output_format not in NDJSON_FORMATS:
        raise FhirError(
            400,
            "_outputFormat: only application/fhir+ndjson is written.",
            code="not-supported",
            expression="_outputFormat",
        )
    location = None
    if asked.level == ExportLevel.GROUP:
        location = _group(reader, asked.group)
    types = _types(reader, asked.level, asked.types)
    since = _since(asked.since)
    client = _client_of(reader)
    with transaction.atomic():
        _requester_lock(reader, client)
        mine = _requested_by(reader, client)
        if mine.filter(status__in=UNFINISHED).exists():
            raise FhirError(
                429,
                "An export of yours is still being written: follow its status, or cancel it.",
            )
        export = BulkExport.objects.create(
            clinic_id=reader.clinic_id,
            user=reader.user,
            client=client,
            scopes=" ".join(sorted(reader.scopes or ())),
            level=asked.level,
            location=location,
            types=types,
            since=since,
            request_url=asked.request_url[:2000],
            requested_at=timezone.now(),
        )
        audit_record(
            actor=reader.actor,
            action=Action.CREATE,
            object_type="fhir_export",
            object_id=export.public_id,
            clinic=export.clinic,
            detail={"level": asked.level, "types": types} | _client_detail(reader),
        )
        transaction.on_commit(lambda: enqueue(FHIR_EXPORT_RUN, export.pk))
    return export


def _group(reader: FhirReader, group: str) -> Location:
    try:
        key = uuid.UUID(group)
    except ValueError:
        raise FhirError(404, "No Group with that id.") from None
    location = Location.objects.filter(clinic_id=reader.clinic_id, public_id=key).first()
    if location is None:
        raise FhirError(404, "No Group with that id.")
    return location


def _requester_lock(reader: FhirReader, client: FhirClient | None) -> None:
    """Lock the requester's row (the person's; a backend's, its client's) until the kick-off
    commits: of two kick-offs at once, the second waits, then finds the first unfinished (one
    export at a time). SQLite's writers are one at a time already."""
    if reader.user is not None:
        User.objects.select_for_update().filter(pk=reader.user.pk).values_list("pk").get()
    elif client is not None:
        FhirClient.objects.select_for_update().filter(pk=client.pk).values_list("pk").get()


def _requested_by(reader: FhirReader, client: FhirClient | None) -> QuerySet[BulkExport]:
    """The reader's own exports: the same OAuth client for the same person (a patient app is
    one client for every patient who authorized it: another's export is not hers to follow,
    and does not hold hers up; a backend's token stands for nobody), or the same person's
    session."""
    mine = BulkExport.objects.filter(clinic_id=reader.clinic_id)
    if client is not None:
        return mine.filter(client=client, user=reader.user)
    return mine.filter(user=reader.user, client__isnull=True)


def export_of(reader: FhirReader, export_id: uuid.UUID) -> BulkExport:
    """The reader's own export that still exists, or a 404 (anyone else's is not found)."""
    export = (
        _requested_by(reader, _client_of(reader))
        .filter(public_id=export_id)
        .exclude(status__in=(ExportStatus.CANCELLED, ExportStatus.EXPIRED))
        .first()
    )
    if export is None or (export.expires_at is not None and export.expires_at <= timezone.now()):
        raise FhirError(404, "No such export (finished exports are deleted after a while).")
    return export


def export_file_open(reader: FhirReader, file_id: uuid.UUID) -> tuple[BulkExportFile, Any]:
    """A file of one of the reader's finished exports and its contents opened from the storage
    (the caller streams and closes it), or a 404. The download is audited: the patients' own
    read events were written when the export read their records."""
    found = (
        BulkExportFile.objects.select_related("export")
        .filter(public_id=file_id, status=PieceStatus.DONE, count__gt=0)
        .first()
    )
    if found is None:
        raise FhirError(404, "No such file (finished exports are deleted after a while).")
    export = export_of(reader, found.export.public_id)
    if export.status != ExportStatus.DONE:
        raise FhirError(404, "No such file.")
    if not reader.may_read(found.resource_type):
        # The token in hand decides, not the one the export was asked with: a narrower one
        # (she let the app in again with less) fetches no file of a type it may not read.
        raise FhirError(
            403,
            f"The access token's scopes do not include reading {found.resource_type}.",
            code="forbidden",
        )
    with transaction.atomic():
        audit_record(
            actor=reader.actor,
            action=Action.READ,
            object_type="fhir_export_file",
            object_id=found.public_id,
            clinic=export.clinic,
            detail={"export": str(export.public_id), "type": found.resource_type}
            | _client_detail(reader),
        )
    return found, default_storage.open(found.name, "rb")


def _client_detail(reader: FhirReader) -> dict[str, str]:
    return {"client": reader.client} if reader.client else {}


def manifest(export: BulkExport, file_url: Any) -> dict[str, Any]:
    """The completed export's manifest (IG 2.0, "Response - Complete Status")."""
    return {
        "transactionTime": export.requested_at.astimezone(dt.UTC).isoformat(),
        "request": export.request_url,
        "requiresAccessToken": True,
        "output": [
            {"type": each.resource_type, "url": file_url(each), "count": each.count}
            for each in export.files.filter(count__gt=0)
        ],
        "error": [],
    }


def export_cancel(*, reader: FhirReader, export_id: uuid.UUID) -> None:
    """Cancel an unfinished export, or delete a finished one's files now (IG: DELETE)."""
    export = export_of(reader, export_id)
    with transaction.atomic():
        BulkExport.objects.filter(pk=export.pk).update(status=ExportStatus.CANCELLED)
        audit_record(
            actor=reader.actor,
            action=Action.DELETE,
            object_type="fhir_export",
            object_id=export.public_id,
            clinic=export.clinic,
            detail=_client_detail(reader),
        )
    _delete_files(export)


def _file_name(piece: BulkExportFile) -> str:
    """Where a file is saved: fixed before it is written (its own id in it, so no two files
    share a name, in any storage), so that its export's deletion finds it even if its job died
    between saving it and recording it."""
    return f"fhir-export/{piece.export.public_id}/{piece.resource_type}-{piece.public_id}.ndjson"


def _stored_names(piece: BulkExportFile) -> set[str]:
    """The names a file may be stored under: its fixed one, and the one the storage recorded
    (the same, unless the storage changed it on saving)."""
    return {_file_name(piece), piece.name} - {""}


def _delete_files(export: BulkExport) -> None:
    files = BulkExportFile.objects.filter(export=export).select_related("export")
    for piece in files:
        for name in _stored_names(piece):
            default_storage.delete(name)  # no error if it was never written
    files.delete()
    BulkExportPatient.objects.filter(export=export).delete()


def app_exports_end(*, client: FhirClient, user: User) -> int:
    """End the exports a patient asked through an app she disconnects: an unfinished one is
    cancelled, a finished one's files deleted now (its access to them ends with its tokens);
    how many. Call after the disconnect commits: a file deleted cannot be rolled back."""
    ended = 0
    mine = BulkExport.objects.filter(client=client, user=user)
    for export in mine.filter(status__in=(*UNFINISHED, ExportStatus.DONE)):
        after = (
            ExportStatus.EXPIRED if export.status == ExportStatus.DONE else ExportStatus.CANCELLED
        )
        BulkExport.objects.filter(pk=export.pk, status=export.status).update(status=after)
        _delete_files(export)
        ended += 1
    return ended


def client_exports_delete(client: FhirClient) -> None:
    """Delete the files of every export of a client being removed, once the removal commits:
    its exports go with it (cascade), and their files would stay behind with nothing left to
    find them by, past any retention time."""
    names = [
        name
        for piece in BulkExportFile.objects.filter(export__client=client).select_related("export")
        for name in _stored_names(piece)
    ]

    def delete() -> None:
        for name in names:
            default_storage.delete(name)

    if names:
        transaction.on_commit(delete)


def export_stalled_fail(export: BulkExport, now: dt.datetime | None = None) -> bool:
    """Fail a running export whose work stopped, so that its requester may ask again (one
    export at a time would hold them up for good): a file being written whose job has said
    nothing for ``STALLED_AFTER``, or the export's own job (auditing, planning) running that
    long with no file planned. Whether it failed it."""
    if export.status != ExportStatus.RUNNING:
        return False
    cutoff = (now or timezone.now()) - STALLED_AFTER
    files = BulkExportFile.objects.filter(export=export)
    silent = files.filter(status=PieceStatus.WRITING, touched_at__lt=cutoff).exists()
    unplanned = export.touched_at is not None and export.touched_at < cutoff
    if not silent and not (unplanned and not files.exists()):
        return False
    log.error("FHIR export %s stopped with its worker: failed, to be asked again", export.public_id)
    BulkExport.objects.filter(pk=export.pk, status=ExportStatus.RUNNING).update(
        status=ExportStatus.FAILED, finished_at=timezone.now()
    )
    _delete_files(export)
    export.status = ExportStatus.FAILED
    return True


def _jobs_lost_enqueue(now: dt.datetime) -> None:
    """Enqueue again the jobs of exports and files still waiting ``STALLED_AFTER`` after they
    were enqueued: a job can be lost (its worker died before it ran, the queue was emptied). A
    job that was only slow to come runs twice, and its second run finds its work claimed."""
    cutoff = now - STALLED_AFTER
    for pk in BulkExport.objects.filter(
        status=ExportStatus.QUEUED, requested_at__lt=cutoff
    ).values_list("pk", flat=True):
        enqueue(FHIR_EXPORT_RUN, pk)
    waiting = BulkExportFile.objects.filter(
        status=PieceStatus.QUEUED, export__status=ExportStatus.RUNNING, touched_at__lt=cutoff
    )
    for pk in list(waiting.values_list("pk", flat=True)):
        BulkExportFile.objects.filter(pk=pk, status=PieceStatus.QUEUED).update(touched_at=now)
        enqueue(FHIR_EXPORT_PIECE, pk)


def export_purge(now: dt.datetime | None = None) -> int:
    """Keep exports moving and clean up after them: enqueue lost jobs again
    (``_jobs_lost_enqueue``), fail exports whose worker died (``export_stalled_fail``), and
    delete the files of every export past its retention time; how many exports were deleted."""
    now = now or timezone.now()
    _jobs_lost_enqueue(now)
    for running in BulkExport.objects.filter(status=ExportStatus.RUNNING):
        export_stalled_fail(running, now)
    done = 0
    for export in BulkExport.objects.filter(status=ExportStatus.DONE, expires_at__lte=now):
        _delete_files(export)
        BulkExport.objects.filter(pk=export.pk).update(status=ExportStatus.EXPIRED)
        done += 1
    return done


# --- the worker's job ------------------------------------------------------------------------


def reader_for(export: BulkExport, *, files: bool = False) -> FhirReader:
    """The reader the export was asked by, as the request made it. A Group export's ``files``
    read the patients its audit recorded (``BulkExportPatient``), not the location's of the
    moment, so that no patient is exported without her event."""
    user: User | None = export.user
    client = export.client
    return FhirReader(
        user=user,
        clinic_id=export.clinic_id,
        actor=Actor(user=user),
        scopes=frozenset(export.scopes.split()) if client is not None else None,
        client=str(client.application.client_id) if client is not None else "",
        location_id=export.location_id,
        audited_export=export.pk if files and export.location_id is not None else None,
    )


class ExportCancelledError(Exception):
    """The export was cancelled while it was written."""


def export_run(export_pk: int) -> str:
    """Start writing an export: audit its patients, then plan its files (``_plan``) and enqueue
    a job for each (``export_piece``). A second run of the same job (a retried job) finds it
    claimed and does nothing."""
    now = timezone.now()
    claimed = BulkExport.objects.filter(pk=export_pk, status=ExportStatus.QUEUED).update(
        status=ExportStatus.RUNNING,
        started_at=now,
        touched_at=now,
        progress="Auditing the patients",
    )
    if not claimed:
        return "skipped: not waiting"
    export = BulkExport.objects.select_related("client__application", "user").get(pk=export_pk)
    reader = reader_for(export)
    try:
        # The tables' keys first: every row the files will hold belongs to a patient already
        # there when the audit below runs.
        bounds = _bounds(export, reader)
        _audit_patients(reader, export)
        _audit_trail_reads(reader, export)
        pieces = _plan(export, bounds)
    except Exception:
        _failed(export)
        raise
    if not pieces:
        _finish_if_last(export)  # done, unless it was cancelled meanwhile
        return "nothing to export"
    return f"files to write: {pieces}"


def _bounds(export: BulkExport, reader: FhirReader) -> list[tuple[str, int, int, int]]:
    """Each table of each type the export holds, with the keys of its first and last row the
    reader may see now: (type, part, first key, last key). A row added later is not this
    export's (``transactionTime``: the next export's, with ``_since``)."""
    found = []
    for name in export.types:
        for index, part in enumerate(REGISTRY[name].parts):
            keys = _rows(part, reader).aggregate(low=Min("pk"), top=Max("pk"))
            if keys["top"] is not None:  # nothing of it to export: no file (the IG lists none)
                found.append((name, index, keys["low"], keys["top"]))
    return found


def _plan(export: BulkExport, bounds: list[tuple[str, int, int, int]]) -> int:
    """Record the export's files, ``PIECE_SPAN`` primary keys of a table each, and enqueue a job
    for each once they are recorded; how many (none if it was cancelled meanwhile)."""
    now = timezone.now()
    pieces = [
        BulkExportFile(
            export=export,
            resource_type=name,
            part=index,
            pk_after=after,
            pk_last=min(after + PIECE_SPAN, top),
            touched_at=now,
        )
        for name, index, low, top in bounds
        for after in range(low - 1, top, PIECE_SPAN)
    ]
    with transaction.atomic():
        # Locked, so a cancel is either seen here or finds the files to delete.
        if not _running_locked(export):
            return 0
        made = BulkExportFile.objects.bulk_create(pieces)
        BulkExport.objects.filter(pk=export.pk).update(progress="", touched_at=now)
        ids = [piece.pk for piece in made]
        transaction.on_commit(lambda: [enqueue(FHIR_EXPORT_PIECE, pk) for pk in ids])
    return len(made)


def export_piece(piece_pk: int) -> str:
    """Write one file of an export; the last of its files to be written finishes the export. A
    retried job finds its file claimed and does nothing; a file of an export cancelled or
    failed meanwhile is dropped."""
    claimed = BulkExportFile.objects.filter(
        pk=piece_pk, status=PieceStatus.QUEUED, export__status=ExportStatus.RUNNING
    ).update(status=PieceStatus.WRITING, touched_at=timezone.now())
    if not claimed:
        return "skipped: not waiting"
    piece = BulkExportFile.objects.select_related(
        "export__client__application", "export__user"
    ).get(pk=piece_pk)
    export = piece.export
    try:
        name, count, size = _write_piece(piece, reader_for(export, files=True))
    except ExportCancelledError:
        return "cancelled"
    except Exception:
        _failed(export)
        raise
    with transaction.atomic():
        # Locked: of two files finished at once, the second sees the first.
        running = _running_locked(export)
        if running:
            BulkExportFile.objects.filter(pk=piece.pk).update(
                status=PieceStatus.DONE, name=name, count=count, size=size
            )
            _finish_if_last(export)
    if not running:
        # Cancelled or failed while this file was written: its files were deleted before this
        # one was saved.
        if name:
            default_storage.delete(name)
        return "cancelled"
    return f"{count} resources"


def _running_locked(export: BulkExport) -> bool:
    """Whether the export is still running, its row locked until the transaction ends (a cancel
    or another file's finish waits for it)."""
    return (
        BulkExport.objects.select_for_update()
        .filter(pk=export.pk, status=ExportStatus.RUNNING)
        .exists()
    )


def _failed(export: BulkExport) -> None:
    log.exception("FHIR export %s failed", export.public_id)
    # A cancelled export stays cancelled (its requester asked for it to go).
    BulkExport.objects.filter(pk=export.pk, status__in=UNFINISHED).update(
        status=ExportStatus.FAILED, finished_at=timezone.now()
    )
    _delete_files(export)


def _finish_if_last(export: BulkExport) -> None:
    """Mark the export done if none of its files is still to be written."""
    if BulkExportFile.objects.filter(export=export).exclude(status=PieceStatus.DONE).exists():
        return
    written = BulkExportFile.objects.filter(export=export).aggregate(n=Sum("count"))["n"] or 0
    finished = timezone.now()
    done = BulkExport.objects.filter(pk=export.pk, status=ExportStatus.RUNNING).update(
        status=ExportStatus.DONE,
        finished_at=finished,
        expires_at=finished + dt.timedelta(hours=settings.FHIR_EXPORT_RETENTION_HOURS),
        resources=written,
        progress=f"{written:,} resources written",
    )
    if done:
        BulkExportPatient.objects.filter(export=export).delete()  # every file is written


def progress(export: BulkExport) -> str:
    """How far an unfinished export is, for its status (``X-Progress``)."""
    files = BulkExportFile.objects.filter(export=export).aggregate(
        planned=Count("pk"), done=Count("pk", filter=Q(status=PieceStatus.DONE)), rows=Sum("count")
    )
    if not files["planned"]:
        return export.progress or export.get_status_display()
    return (
        f"{files['done']} of {files['planned']} parts written,"
        f" {files['rows'] or 0:,} resources so far"
    )


def _audit_patients(reader: FhirReader, export: BulkExport) -> None:
    """One read event per patient whose record the export may hold, a chunk of patients per
    transaction (keyset by id: the set can be a chain's 100,000)."""
    clinical = any(REGISTRY[name].patient_of is not None for name in export.types)
    if not clinical:
        return
    patients = reader.patients().order_by("pk")
    last = 0
    while True:
        with transaction.atomic():
            chunk = list(patients.filter(pk__gt=last)[:CHUNK])
            if not chunk:
                return
            audit_record_many(
                actor=reader.actor,
                action=Action.EXPORT,
                object_type="fhir_export",
                patients=chunk,
                detail={"export": str(export.public_id), "types": export.types}
                | _client_detail(reader),
            )
            if export.location_id is not None:
                BulkExportPatient.objects.bulk_create(
                    BulkExportPatient(export=export, patient=patient) for patient in chunk
                )
            BulkExport.objects.filter(pk=export.pk).update(touched_at=timezone.now())
        last = chunk[-1].pk


def _audit_trail_reads(reader: FhirReader, export: BulkExport) -> None:
    """A type whose page audits its reads as one event (``ResourceType.read_event``: the audit
    trail) gets that event for the export too, as a search of it would: exporting the trail is
    reading it."""
    for name in export.types:
        event = REGISTRY[name].read_event
        if event:
            with transaction.atomic():
                audit_record(
                    actor=reader.actor,
                    action=Action.EXPORT,
                    object_type=event,
                    clinic=export.clinic,
                    detail={"export": str(export.public_id), "type": name} | _client_detail(reader),
                )


def _rows(part: ResourceType, reader: FhirReader) -> QuerySet[Any]:
    return (part.export_rows or part.rows)(reader)


def _write_piece(piece: BulkExportFile, reader: FhirReader) -> tuple[str, int, int]:
    """Write the piece's rows to a file in the storage; its name ("" if there was nothing to
    write), the number of resources and the size."""
    export = piece.export
    part = REGISTRY[piece.resource_type].parts[piece.part]
    rows = _rows(part, reader).order_by("pk")
    if piece.pk_last is not None:
        rows = rows.filter(pk__lte=piece.pk_last)
    if part.updated_field is not None:
        # As the export was asked for: nothing changed after (IG: ``transactionTime``).
        rows = rows.filter(**{f"{part.updated_field}__lte": export.requested_at})
        if export.since is not None:
            rows = rows.filter(**{f"{part.updated_field}__gt": export.since})

    def fetch(last: int) -> list[Any]:
        return list(rows.filter(pk__gt=last)[:CHUNK])

    count = 0
    with tempfile.TemporaryFile() as out:
        for index, chunk in enumerate(_read_ahead(fetch, piece.pk_after)):
            out.write(b"".join(orjson.dumps(part.to_fhir(row), option=NEWLINE) for row in chunk))
            count += len(chunk)
            if index % 25 == 24:
                _progress(piece, count)
        if not count:
            return "", 0, 0
        size = out.tell()
        out.seek(0)
        return default_storage.save(_file_name(piece), File(out)), count, size


def _read_ahead(fetch: Callable[[int], list[Any]], after: int) -> Iterator[list[Any]]:
    """The chunks ``fetch`` gives from the key ``after``, each next one read while the caller
    writes the last: on PostgreSQL, by a thread on a connection of its own, so the database's
    time and the writing overlap (about a third faster). Inside a transaction (a test's) a second
    connection would not see its rows, and SQLite has one writer: there, one after another."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        while chunk := fetch(after):
            yield chunk
            after = chunk[-1].pk
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fhir-export") as pool:
        try:
            coming = pool.submit(fetch, after)
            while chunk := coming.result():
                coming = pool.submit(fetch, chunk[-1].pk)
                yield chunk
        finally:
            # The thread's own connection (connections are per thread) closes with it.
            pool.submit(connections.close_all).result()


def _progress(piece: BulkExportFile, count: int) -> None:
    """Say how far the file is; stop if the export was cancelled or failed meanwhile (its
    files, this one's row among them, are deleted then)."""
    moved = BulkExportFile.objects.filter(pk=piece.pk, export__status=ExportStatus.RUNNING).update(
        count=count, touched_at=timezone.now()
    )
    if not moved:
        raise ExportCancelledError
