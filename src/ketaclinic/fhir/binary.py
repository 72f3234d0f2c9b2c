"""``GET /fhir/R4/Binary/[id]``: a progress letter's PDF, the content its DocumentReference (of
the same id) points to. Read only, never searched (R4: Binary is fetched through the resource
that names it), so it is not a type of the registry; the CapabilityStatement lists it apart.

The representation follows the request, as R4 asks of a Binary read (http.html#binary): the PDF
itself (``application/pdf``) when the Accept header asks for it, for anything (``*/*``) or for
nothing, and the ``Binary`` resource in FHIR JSON (the PDF base64-encoded in ``data``) when it
asks for FHIR JSON or ``_format`` does. The readers are the DocumentReference's
(``document_reference.ready_letters``): outside them a 404. Either way the letter leaves the
record, so each read is audited as the letters page audits a download: one export event.
"""

from __future__ import annotations

import base64
import logging
import uuid
from typing import Any, Literal

from django.db import transaction
from django.http import HttpRequest, HttpResponse

from ketaclinic.audit.api import audit_record
from ketaclinic.audit.models import Action
from ketaclinic.fhir.access import FhirReader, reader_of
from ketaclinic.fhir.http import FHIR_JSON, FhirError, fhir_response
from ketaclinic.fhir.resources.base import instant
from ketaclinic.fhir.resources.document_reference import PDF, ready_letters
from ketaclinic.fhir.views import fhir_endpoint
from ketaclinic.outcomes.models import Letter

logger = logging.getLogger(__name__)

Form = Literal["pdf", "json"]
FHIR_TYPES = frozenset({FHIR_JSON, "application/json", "application/json+fhir"})
FORMS: tuple[tuple[Form, frozenset[str]], ...] = (("pdf", frozenset({PDF})), ("json", FHIR_TYPES))


def representation(request: HttpRequest) -> Form:
    """What the request asks for: ``_format`` (JSON only, checked by ``fhir_endpoint``) first,
    then the Accept header, each media range's quality taken from its most specific match
    (RFC 9110 12.5.1); on a tie the one named more exactly wins, then the PDF itself. A 406
    when it accepts neither."""
    if request.GET.get("_format"):
        return "json"
    header = request.headers.get("Accept", "").strip() or "*/*"
    best: dict[Form, tuple[float, int]] = {"pdf": (0.0, 0), "json": (0.0, 0)}
    for part in header.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        media = media.lower()
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        for form, exact in FORMS:
            if media in exact:
                specific = 3
            elif media == "application/*":
                specific = 2
            elif media == "*/*":
                specific = 1
            else:
                continue
            if specific > best[form][1]:
                best[form] = (quality, specific)
    pdf, json = best["pdf"], best["json"]
    if pdf[0] <= 0 and json[0] <= 0:
        raise FhirError(
            406,
            "A Binary is served as application/pdf or as FHIR JSON (application/fhir+json).",
            code="not-supported",
        )
    return "json" if json > pdf else "pdf"


def binary_content(*, reader: FhirReader, resource_id: str, form: Form) -> tuple[Letter, bytes]:
    """The letter the reader may see and its PDF, read from the storage, and the export
    recorded; a 404 outside the reader's letters (or when the file is missing)."""
    if not (reader.may_read("Binary") or reader.may_read("DocumentReference")):
        # Scopes name the types of the registry; a letter's content is its DocumentReference's.
        raise FhirError(
            403,
            "The access token's scopes do not include reading DocumentReference.",
            code="forbidden",
        )
    try:
        key = uuid.UUID(resource_id)
    except ValueError:
        raise FhirError(404, "No Binary with that id.") from None
    letter = ready_letters(reader).filter(public_id=key).first()
    if letter is None:
        raise FhirError(404, "No Binary with that id.")
    try:
        with letter.pdf_file.storage.open(letter.pdf_file.name, "rb") as handle:
            content: bytes = handle.read()
    except FileNotFoundError:
        # The row says ready but the storage has no file: an operator's problem, logged by id.
        logger.error("Progress letter %s: its file is missing", letter.pk)
        raise FhirError(404, "No Binary with that id.") from None
    with transaction.atomic():
        audit_record(
            actor=reader.actor,
            action=Action.EXPORT,
            object_type="progress_letter",
            object_id=letter.public_id,
            patient=letter.patient,
            detail={"interaction": "read", "type": "Binary", "format": form}
            | ({"client": reader.client} if reader.client else {}),
        )
    return letter, content


def binary(letter: Letter, content: bytes) -> dict[str, Any]:
    """The Binary resource: the PDF base64-encoded, under its DocumentReference's access."""
    assert letter.ready_at is not None
    return {
        "resourceType": "Binary",
        "id": str(letter.public_id),
        "meta": {"lastUpdated": instant(letter.ready_at)},
        "contentType": PDF,
        "securityContext": {"reference": f"DocumentReference/{letter.public_id}"},
        "data": base64.b64encode(content).decode("ascii"),
    }


@fhir_endpoint
def binary_read(request: HttpRequest, resource_id: str) -> HttpResponse:
    reader = reader_of(request)
    form = representation(request)
    letter, content = binary_content(reader=reader, resource_id=resource_id, form=form)
    if form == "json":
        response = fhir_response(binary(letter, content))
    else:
        response = HttpResponse(content, content_type=PDF)
        response["Content-Disposition"] = (
            f'attachment; filename="progress-letter-{letter.created_at:%Y-%m-%d}.pdf"'
        )
    response["Cache-Control"] = "no-store"
    response["Vary"] = "Accept"
    return response
