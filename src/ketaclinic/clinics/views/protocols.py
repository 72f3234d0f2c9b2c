"""The clinic admin's protocol template pages: the list (flagging a template that no longer fits
the dose limits), a new template, an edit, and deactivation.

Templates are versioned: the edit form and the deactivate button carry the version they were
opened at, and the service refuses a stale one.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ketaclinic.accounts.api import roles_required, signed_in_user
from ketaclinic.audit.api import Actor
from ketaclinic.clinics import selectors, services
from ketaclinic.clinics.access import access_protocol_template
from ketaclinic.clinics.forms import ProtocolTemplateForm
from ketaclinic.clinics.services import TEMPLATE_FIELDS
from ketaclinic.clinics.views.common import (
    ADMIN,
    form_page,
    form_values,
    posted_bool,
    posted_int,
    run_action,
    saved_from_form,
)
from ketaclinic.lib.confirm import Question, ask_first, is_confirmed
from ketaclinic.lib.views import user_clinic_id


@roles_required(ADMIN)
@require_GET
def protocol_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.protocol_templates_for_admin(clinic_id=user_clinic_id(signed_in_user(request)))
    return render(request, "clinics/protocol_list.html", {"rows": rows})


@roles_required(ADMIN)
@require_http_methods(["GET", "POST"])
def protocol_new(request: HttpRequest) -> HttpResponse:
    form = ProtocolTemplateForm(request.POST or None)
    template = saved_from_form(
        request,
        form,
        lambda: services.protocol_template_create(
            actor=Actor.from_request(request), values=form_values(form, TEMPLATE_FIELDS)
        ),
    )
    if template is not None:
        messages.success(request, f"Added {template.name}.")
        return redirect("clinics:protocols")
    return form_page(request, "clinics/protocol_form.html", {"form": form, "template": None})


@roles_required(ADMIN)
@require_http_methods(["GET", "POST"])
def protocol_edit(request: HttpRequest, template_id: int) -> HttpResponse:
    actor = Actor.from_request(request)
    template = access_protocol_template(actor, template_id)
    if request.method == "GET":
        form = ProtocolTemplateForm(initial=ProtocolTemplateForm.initial_for(template))
    else:
        form = ProtocolTemplateForm(request.POST)
    saved = saved_from_form(
        request,
        form,
        lambda: services.protocol_template_update(
            actor=actor,
            template_id=template.pk,
            expected_version=form.cleaned_data["version"] or 0,
            values=form_values(form, TEMPLATE_FIELDS),
        ),
    )
    if saved is not None:
        if saved.version == template.version:
            messages.info(request, "Nothing changed.")
        else:
            messages.success(request, f"Saved {saved.name} as version {saved.version}.")
        return redirect("clinics:protocols")
    return form_page(request, "clinics/protocol_form.html", {"form": form, "template": template})


@roles_required(ADMIN)
@require_POST
def protocol_active(request: HttpRequest, template_id: int) -> HttpResponse:
    is_active = posted_bool(request, "is_active")
    if not is_active and not is_confirmed(request):
        asked = access_protocol_template(Actor.from_request(request), template_id)
        return ask_first(
            request,
            Question(
                title=f"Deactivate {asked.name}?",
                consequence=(
                    f"New treatment plans can no longer use {asked.name}. Plans already "
                    "written from it stay as they are. You can reactivate it at any time; "
                    "nobody is emailed."
                ),
                confirm=f"Deactivate {asked.name}",
                back_url=reverse("clinics:protocols"),
            ),
        )
    template = run_action(
        request,
        lambda: services.protocol_template_set_active(
            actor=Actor.from_request(request),
            template_id=template_id,
            expected_version=posted_int(request, "version") or 0,
            is_active=is_active,
        ),
    )
    if template is not None:
        verb = "reactivated" if is_active else "deactivated: new plans cannot use it"
        messages.success(request, f"{template.name} {verb}.")
    return redirect("clinics:protocols")
