"""The clinic admin's page of FHIR API clients: register one (a backend's secret is shown
once), see them, revoke one (after a confirmation: its tokens stop working at once)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from ketaclinic.accounts.api import admin_clinic, roles_required
from ketaclinic.accounts.models import Role
from ketaclinic.audit.api import Actor
from ketaclinic.clinics.models import Clinic
from ketaclinic.fhir.forms import ClientForm
from ketaclinic.fhir.models import FhirClient
from ketaclinic.fhir.services import ClientError, fhir_client_register, fhir_client_revoke
from ketaclinic.lib.confirm import Question, ask_first, is_confirmed


def _page(
    request: HttpRequest, form: ClientForm, status: int = 200, **extra: object
) -> HttpResponse:
    clients = (
        FhirClient.objects.filter(clinic_id=admin_clinic(Actor.from_request(request)))
        .select_related("application", "created_by")
        .order_by("-created_at")
    )
    return render(
        request,
        "fhir/clients.html",
        {"form": form, "clients": clients, "fhir_base": reverse("fhir:base"), **extra},
        status=status,
    )


@roles_required(Role.CLINIC_ADMIN)
@require_http_methods(["GET", "POST"])
def clients(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request, ClientForm())
    form = ClientForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=422)
    data = form.cleaned_data
    try:
        client, secret = fhir_client_register(
            actor=Actor.from_request(request),
            clinic=Clinic.objects.get(pk=admin_clinic(Actor.from_request(request))),
            name=data["name"],
            kind=data["kind"],
            redirect_uris=[data["redirect_uri"]] if data["redirect_uri"] else [],
        )
    except ClientError as error:
        form.add_error(error.field if error.field in form.fields else None, str(error))
        return _page(request, form, status=422)
    # The secret is shown on this answer only: never stored in clear, in a message or a URL.
    return _page(request, ClientForm(), status=201, registered=client, secret=secret)


@roles_required(Role.CLINIC_ADMIN)
@require_POST
def client_revoke(request: HttpRequest, client_id: int) -> HttpResponse:
    client = (
        FhirClient.objects.select_related("application", "clinic")
        .filter(pk=client_id, clinic_id=admin_clinic(Actor.from_request(request)))
        .first()
    )
    if client is None:
        raise Http404("No such client")
    name = client.application.name
    if not is_confirmed(request):
        return ask_first(
            request,
            Question(
                title=f"Revoke {name}?",
                consequence=(
                    f"{name} can no longer read this clinic's records: every token it holds stops"
                    " working at once, and it must be registered again to read anything. Nobody"
                    " is emailed."
                ),
                confirm=f"Revoke {name}",
                back_url=reverse("fhir:clients"),
            ),
        )
    tokens = fhir_client_revoke(actor=Actor.from_request(request), client=client)
    messages.success(request, f"{name} revoked; {tokens} token(s) stopped working.")
    return redirect("fhir:clients")
