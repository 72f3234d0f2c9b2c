"""The patient's page of connected apps (Me > Connected apps): what each app she authorized
may read, since when, and a Disconnect button that asks first."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from ketaclinic.accounts.api import roles_required
from ketaclinic.accounts.models import Role, User
from ketaclinic.audit.api import Actor
from ketaclinic.fhir.connected import connected_app_disconnect, connected_apps
from ketaclinic.fhir.models import ClientKind, FhirClient
from ketaclinic.lib.confirm import Question, ask_first, is_confirmed


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # roles_required let a patient in
    return user


@roles_required(Role.PATIENT)
@require_GET
def my_apps(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    # Times in her usual location's zone, named, as on her other pages.
    home = user.patient.home_location if hasattr(user, "patient") else None
    return render(request, "fhir/my_apps.html", {"apps": connected_apps(user), "where": home})


@roles_required(Role.PATIENT)
@require_POST
def my_app_disconnect(request: HttpRequest, client_id: int) -> HttpResponse:
    user = _user(request)
    if not is_confirmed(request):
        client = (
            FhirClient.objects.select_related("application")
            .filter(pk=client_id, kind=ClientKind.PATIENT_APP, clinic_id=user.clinic_id or 0)
            .first()
        )
        name = client.application.name if client is not None else "this app"
        return ask_first(
            request,
            Question(
                title=f"Disconnect {name}?",
                consequence=(
                    f"{name} can no longer read your record: its access ends at once. What it"
                    " has already copied stays with it; ask its makers to delete it. To use it"
                    " again, connect it again from the app. Nobody is emailed."
                ),
                confirm=f"Disconnect {name}",
                back_url=reverse("fhir:my_apps"),
            ),
        )
    client = connected_app_disconnect(
        actor=Actor.from_request(request), user=user, client_id=client_id
    )
    messages.success(request, f"{client.application.name} is disconnected.")
    return redirect("fhir:my_apps")
