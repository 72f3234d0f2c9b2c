"""Thin views of progress letters: list and request from the chart, download the PDF."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from ketaclinic.accounts.api import roles_required, signed_in_user
from ketaclinic.audit.api import Actor
from ketaclinic.outcomes import timing
from ketaclinic.outcomes.letters import selectors, services
from ketaclinic.outcomes.models import Letter, LetterStatus
from ketaclinic.patients.api import access_patient

CLINICAL_STAFF = services.CLINICAL_ROLES

log = logging.getLogger(__name__)


@roles_required(*CLINICAL_STAFF)
@require_http_methods(["GET", "POST"])
def staff_patient_letters(request: HttpRequest, public_id: str) -> HttpResponse:
    user = signed_in_user(request)
    # Requesting a letter reads the chart and writes nothing to it, so nurses may too.
    patient = access_patient(user, public_id, for_write=False, clinical=True)
    actor = Actor.from_request(request)
    if request.method == "POST":
        services.letter_request(actor=actor, patient=patient)
        messages.success(request, "The progress letter is being prepared; refresh in a moment.")
        return redirect("outcomes:staff_patient_letters", public_id=patient.public_id)
    rows = selectors.letters_for_patient(actor=actor, patient=patient)
    # Letters belong to no visit: their times are read in the patient's usual zone.
    zone = timing.patient_zone(patient).key
    return render(
        request, "outcomes/letters.html", {"patient": patient, "rows": rows, "zone": zone}
    )


@roles_required(*CLINICAL_STAFF)
@require_GET
def staff_letter_pdf(request: HttpRequest, public_id: str) -> FileResponse:
    user = signed_in_user(request)
    if user.clinic_id is None:
        raise Http404("No such letter")
    letter = (
        Letter.objects.filter(public_id=public_id, clinic_id=user.clinic_id)
        .select_related("patient")
        .first()
    )
    if letter is None or letter.status != LetterStatus.READY:
        raise Http404("No such letter")
    # The same access check as the chart (clinic, clinical role).
    access_patient(user, letter.patient.public_id, for_write=False, clinical=True)
    try:
        handle = selectors.letter_download(actor=Actor.from_request(request), letter=letter)
    except FileNotFoundError:
        # The row says ready but the storage has no file (a restore without the files, a
        # node without the shared directory): an operator's problem, logged by id only.
        log.error("Progress letter %s: its file %s is missing", letter.pk, letter.pdf_file.name)
        raise Http404("No such letter") from None
    # Streamed from the storage (FileResponse closes the file); never a media URL.
    response = FileResponse(
        handle,
        content_type="application/pdf",
        as_attachment=True,
        filename=f"progress-letter-{letter.created_at:%Y-%m-%d}.pdf",
    )
    response["Cache-Control"] = "no-store"
    return response
