"""SMART on FHIR's authorization, on django-oauth-toolkit (DOT).

- Scopes (``SmartScopes``, DOT's scopes backend): SMART v1 read scopes for each served type
  but the audit trail (a clinic admin's session alone reads it), ``patient/<Type>.read`` and
  ``patient/*.read`` for patient apps (with ``patient/QuestionnaireResponse.write``, the one
  write: pain diary entries, and ``launch/patient``,
  ``openid``, ``fhirUser`` and ``offline_access``), ``system/<Type>.read`` and ``system/*.read``
  for backend systems. What a client may ask for depends on its kind (``FhirClient``).
- The token response of a patient's token names her record (``patient``: SMART's launch
  context), so the app knows which Patient to read (``SmartValidator``).
- The authorization page (``SmartAuthorizationView``) lets only a patient of the client's clinic
  authorize it, for her own record, and only with PKCE's S256 (SMART App Launch 2.0 forbids
  ``plain``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from oauth2_provider.models import get_application_model
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import BaseScopes
from oauth2_provider.views import AuthorizationView

from ketaclinic.fhir.access import ADMIN_SESSION_TYPES
from ketaclinic.fhir.models import ClientKind, FhirClient
from ketaclinic.fhir.resources.registry import REGISTRY
from ketaclinic.patients.models import Patient

CONTEXT_SCOPES = {
    "launch/patient": "Know which patient record you chose",
    "openid": "Know who you are",
    "fhirUser": "Know who you are",
    "offline_access": "Keep reading after you close the app, until you revoke it",
}
# The API's one write (``fhir.writes``): a patient app adds entries to her pain diary. SMART v1
# names it ``.write``; no ``*.write`` is offered, as nothing else can be written.
PATIENT_WRITE_SCOPES = {
    "patient/QuestionnaireResponse.write": (
        "Add entries to your pain diary (the daily pain score, the weekly PEG)"
    ),
}
PATIENT_DEFAULT = ("patient/*.read", "launch/patient")
SYSTEM_DEFAULT = ("system/*.read",)


def _type_scopes(context: str) -> dict[str, str]:
    whose = "your" if context == "patient" else "the clinic's"
    found = {f"{context}/*.read": f"Read {whose} whole record"}
    for name in sorted(set(REGISTRY) - ADMIN_SESSION_TYPES):  # no token reads those
        found[f"{context}/{name}.read"] = f"Read {whose} {name} resources"
    return found


def all_scopes() -> dict[str, str]:
    return {
        **_type_scopes("patient"),
        **PATIENT_WRITE_SCOPES,
        **CONTEXT_SCOPES,
        **_type_scopes("system"),
    }


def _kind(application: Any) -> str | None:
    client = FhirClient.objects.filter(application=application).only("kind").first()
    return client.kind if client is not None else None


class SmartScopes(BaseScopes):
    """DOT's scopes backend (``OAUTH2_PROVIDER["SCOPES_BACKEND_CLASS"]``)."""

    def get_all_scopes(self) -> dict[str, str]:
        return all_scopes()

    def get_available_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        kind = _kind(application) if application is not None else None
        if kind == ClientKind.PATIENT_APP:
            return [*_type_scopes("patient"), *PATIENT_WRITE_SCOPES, *CONTEXT_SCOPES]
        if kind == ClientKind.BACKEND:
            return list(_type_scopes("system"))
        return []  # an application that is no FHIR client may ask for nothing

    def get_default_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        kind = _kind(application) if application is not None else None
        if kind == ClientKind.PATIENT_APP:
            return list(PATIENT_DEFAULT)
        if kind == ClientKind.BACKEND:
            return list(SYSTEM_DEFAULT)
        return []


class SmartValidator(OAuth2Validator):
    """DOT's validator (``OAUTH2_PROVIDER["OAUTH2_VALIDATOR_CLASS"]``): a patient's token
    response names her record; a refresh token only with ``offline_access``; none renewed for
    a user no longer active."""

    def _save_bearer_token(self, token: dict[str, Any], request: Any, *args: Any, **kw: Any) -> Any:
        if "offline_access" not in str(token.get("scope", "")).split():
            # SMART App Launch (scopes): a refresh token is what offline_access asks for, and
            # the consent page names reading after she closes the app for that scope alone.
            # The response is this dict, so the token is neither stored nor sent.
            token.pop("refresh_token", None)
        saved = super()._save_bearer_token(token, request, *args, **kw)
        user = getattr(request, "user", None)
        if user is not None and getattr(user, "is_patient", False):
            patient = Patient.objects.filter(user=user).only("public_id").first()
            if patient is not None and "launch/patient" in str(token.get("scope", "")).split():
                token["patient"] = str(patient.public_id)
        return saved

    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        # A deactivated account's tokens read nothing; nor are they renewed.
        valid: bool = super().validate_refresh_token(
            refresh_token, client, request, *args, **kwargs
        )
        user = getattr(request, "user", None)
        return valid and (user is None or user.is_active)


class SmartAuthorizationView(AuthorizationView):
    """DOT's authorization page, for a signed-in patient of the client's clinic and PKCE S256
    only; anyone else is told why on the page, and nothing is granted."""

    template_name = "fhir/authorize.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "approval_prompt" in request.GET:
            # DOT lets the request ask for "auto" (no page once she has a token): here she
            # confirms every authorization (REQUEST_APPROVAL_PROMPT), whatever the app asks.
            asked = request.GET.copy()
            del asked["approval_prompt"]
            request.GET = asked  # type: ignore[assignment]  # a copy, as Django's own, made mutable
        if request.user.is_authenticated:
            refusal = _refusal(request)
            if refusal:
                return render(
                    request, "fhir/authorize_refused.html", {"reason": refusal}, status=400
                )
        response: HttpResponse = super().dispatch(request, *args, **kwargs)
        # The consent form's answer redirects to the app: the page's Content-Security-Policy
        # must let a form lead there (browsers apply form-action to the redirect too).
        origins = _redirect_origins(request)
        if origins:
            response._csp_update = {"form-action": origins}  # type: ignore[attr-defined]
        return response


def _redirect_origins(request: HttpRequest) -> list[str]:
    params = request.GET if request.method == "GET" else request.POST
    application = (
        get_application_model().objects.filter(client_id=params.get("client_id", "")).first()
    )
    if application is None:
        return []
    origins = []
    for uri in str(application.redirect_uris).split():
        parts = urlsplit(uri)
        origin = f"{parts.scheme}://{parts.netloc}" if parts.netloc else f"{parts.scheme}:"
        if origin not in origins:
            origins.append(origin)
    return origins


def _refusal(request: HttpRequest) -> str:
    params = request.GET if request.method == "GET" else request.POST
    user = request.user
    application = (
        get_application_model().objects.filter(client_id=params.get("client_id", "")).first()
    )
    client = (
        FhirClient.objects.filter(application=application).first()
        if application is not None
        else None
    )
    if client is None or client.kind != ClientKind.PATIENT_APP:
        return "This app is not registered with the clinic."
    if (
        not getattr(user, "is_patient", False)
        or getattr(user, "clinic_id", None) != client.clinic_id
    ):
        return (
            "Only a patient of the clinic that registered this app can let it read her record."
            " Sign in with your patient account at that clinic."
        )
    if params.get("code_challenge_method") != "S256":
        return "The app must use PKCE with the S256 method; it asked otherwise."
    return ""
