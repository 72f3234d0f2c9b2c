"""The clinic's brand: the admin's settings page, and the two public files pages use.

The logo is read from Django's storage by this view rather than served from MEDIA_URL, so only
a clinic's current logo is reachable, always with the type it was checked to be. Its URL and the
stylesheet's carry the brand version or the colour, so browsers may keep both for a year.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_http_methods

from ketaclinic.accounts.api import roles_required, signed_in_user
from ketaclinic.audit.api import Actor
from ketaclinic.clinics import services
from ketaclinic.clinics.forms import BrandForm
from ketaclinic.clinics.models import Clinic
from ketaclinic.clinics.services.brand import BRAND_FIELDS, logo_content_type
from ketaclinic.clinics.views.common import ADMIN, form_page, saved_from_form
from ketaclinic.lib.views import user_clinic_id

YEAR_SECONDS = 365 * 24 * 60 * 60


@roles_required(ADMIN)
@require_http_methods(["GET", "POST"])
def brand_edit(request: HttpRequest) -> HttpResponse:
    clinic = get_object_or_404(Clinic, pk=user_clinic_id(signed_in_user(request)))
    form = BrandForm(request.POST or None, request.FILES or None, clinic=clinic)
    saved = saved_from_form(
        request,
        form,
        lambda: services.clinic_brand_update(
            actor=Actor.from_request(request),
            based_on_version=form.cleaned_data["based_on_version"],
            values={name: form.cleaned_data[name] for name in BRAND_FIELDS},
            logo=form.cleaned_data["logo"],
            remove_logo=bool(form.cleaned_data.get("remove_logo")),
        ),
    )
    if saved is not None:
        messages.success(request, "Saved the clinic's brand.")
        return redirect("clinics:brand")
    return form_page(request, "clinics/brand_form.html", {"form": form, "clinic": clinic})


@login_not_required
@require_GET
def logo(request: HttpRequest, clinic_id: int, version: int) -> HttpResponse:
    clinic = get_object_or_404(Clinic.objects.only("logo", "brand_version"), pk=clinic_id)
    if not clinic.logo or clinic.brand_version != version:
        raise Http404("No such logo")
    try:
        with clinic.logo.open("rb") as handle:
            content = handle.read()
    except FileNotFoundError:
        # The row names a file the storage no longer has (a database restored without its
        # media): the pages' <img> simply shows nothing.
        raise Http404("No such logo") from None
    response = HttpResponse(content, content_type=logo_content_type(clinic.logo.name))
    response["Cache-Control"] = f"public, max-age={YEAR_SECONDS}, immutable"
    return response


@login_not_required
@require_GET
def brand_css(request: HttpRequest, colour: str) -> HttpResponse:
    # The colour is in the URL (checked by its pattern), so this needs no query and one
    # stylesheet serves every page of a clinic until its colour changes.
    response = HttpResponse(f":root {{ --brand: #{colour}; }}\n", content_type="text/css")
    response["Cache-Control"] = f"public, max-age={YEAR_SECONDS}, immutable"
    return response
