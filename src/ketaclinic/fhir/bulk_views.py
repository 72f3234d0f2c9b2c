"""Bulk Data export endpoints (Bulk Data Access IG 2.0): the kick-off at system, Patient and
Group level, the status (GET to follow, DELETE to cancel) and the files. Thin: ``bulk`` does
the work; every refusal is an ``OperationOutcome``."""

from __future__ import annotations

import json
import uuid

from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.urls import reverse
from django.utils.http import http_date

from ketaclinic.fhir import bulk
from ketaclinic.fhir.access import reader_of
from ketaclinic.fhir.http import FhirError, fhir_response, outcome, preferences
from ketaclinic.fhir.models import BulkExportFile, ExportLevel, ExportStatus
from ketaclinic.fhir.views import fhir_endpoint

NDJSON = "application/fhir+ndjson"


def _kickoff(request: HttpRequest, level: str, group: str = "") -> HttpResponse:
    prefer = preferences(request.headers.get("Prefer", ""))
    export = bulk.export_request(
        reader=reader_of(request),
        asked=bulk.ExportRequest(
            level=level,
            group=group,
            types=",".join(request.GET.getlist("_type")),
            since=request.GET.get("_since", ""),
            output_format=request.GET.get("_outputFormat", ""),
            request_url=request.build_absolute_uri(),
            respond_async="respond-async" in prefer,
            others=tuple(sorted(set(request.GET) - bulk.KICKOFF_PARAMS)),
        ),
    )
    response = fhir_response(
        outcome(
            "The export is being written; follow Content-Location.",
            code="informational",
            severity="information",
        ),
        status=202,
    )
    response["Content-Location"] = request.build_absolute_uri(
        reverse("fhir:export_status", args=[export.public_id])
    )
    return response


# A kick-off starts a job: GET only (the IG's), never HEAD, which a client may send to look
# at an address without meaning to start anything.
KICKOFF = ("GET",)


def _export_system(request: HttpRequest) -> HttpResponse:
    return _kickoff(request, ExportLevel.SYSTEM)


def _export_patients(request: HttpRequest) -> HttpResponse:
    return _kickoff(request, ExportLevel.PATIENT)


def _export_group(request: HttpRequest, group_id: str) -> HttpResponse:
    return _kickoff(request, ExportLevel.GROUP, group_id)


export_system = fhir_endpoint(_export_system, methods=KICKOFF)
export_patients = fhir_endpoint(_export_patients, methods=KICKOFF)
export_group = fhir_endpoint(_export_group, methods=KICKOFF)


def _status(request: HttpRequest, export_id: uuid.UUID) -> HttpResponse:
    reader = reader_of(request)
    if request.method == "DELETE":
        bulk.export_cancel(reader=reader, export_id=export_id)
        return fhir_response(
            outcome(
                "Cancelled; its files are deleted.", code="informational", severity="information"
            ),
            status=202,
        )
    export = bulk.export_of(reader, export_id)
    bulk.export_stalled_fail(export)
    if export.status == ExportStatus.FAILED:
        raise FhirError(500, "The export failed; it is logged. Ask for it again.")
    if export.status != ExportStatus.DONE:
        response = HttpResponse(status=202)
        response["X-Progress"] = bulk.progress(export)
        response["Retry-After"] = str(bulk.POLL_SECONDS)
        return response

    def file_url(each: BulkExportFile) -> str:
        return request.build_absolute_uri(reverse("fhir:export_file", args=[each.public_id]))

    response = HttpResponse(
        json.dumps(bulk.manifest(export, file_url)), content_type="application/json"
    )
    if export.expires_at is not None:
        # The files are deleted then (IG: the complete status may say when it expires).
        response["Expires"] = http_date(export.expires_at.timestamp())
    return response


export_status = fhir_endpoint(_status, methods=("GET", "HEAD", "DELETE"))


@fhir_endpoint
def export_file(request: HttpRequest, file_id: uuid.UUID) -> HttpResponseBase:
    found, handle = bulk.export_file_open(reader_of(request), file_id)
    response = FileResponse(handle, content_type=NDJSON)
    response["Content-Length"] = str(found.size)
    return response
