"""Writes of the FHIR API's own: registering and revoking OAuth clients, audited."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.http import Http404
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_access_token_model, get_application_model

from ketaclinic.accounts.models import Role
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinics.models import Clinic
from ketaclinic.fhir.bulk import client_exports_delete
from ketaclinic.fhir.models import ClientKind, FhirClient


def _require_admin(actor: Actor, clinic: Clinic) -> None:
    """The clinic's own admin, or the server itself (``ketaclinic fhir_client``); anyone else
    is told the clinic's clients are not found."""
    user = actor.user
    if user is None:
        return
    if user.role != Role.CLINIC_ADMIN or user.clinic_id != clinic.pk:
        raise Http404("No such client")


class ClientError(ValueError):
    """A registration refused, with the reason in words and the field it is about."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def fhir_client_register(
    *,
    actor: Actor,
    clinic: Clinic,
    name: str,
    kind: str,
    redirect_uris: Sequence[str] = (),
) -> tuple[FhirClient, str]:
    """Register an OAuth client for ``clinic``: a patient app (a public client: the
    authorization-code flow with PKCE, to the redirect addresses given) or a backend system (a
    confidential client: client credentials). Returns the client and, for a backend, its secret,
    shown this once (only its hash is kept)."""
    _require_admin(actor, clinic)
    name = name.strip()
    if not name:
        raise ClientError("name: give the client a name people will recognise.", "name")
    if kind not in ClientKind.values:
        raise ClientError("kind: choose patient_app or backend.", "kind")
    uris = [uri.strip() for uri in redirect_uris if uri.strip()]
    if kind == ClientKind.PATIENT_APP and not uris:
        raise ClientError(
            "redirect_uri: a patient app needs the address it is sent back to.", "redirect_uri"
        )
    application_model = get_application_model()
    secret = generate_client_secret() if kind == ClientKind.BACKEND else ""
    with transaction.atomic():
        application = application_model(
            name=name,
            client_type=(
                application_model.CLIENT_PUBLIC
                if kind == ClientKind.PATIENT_APP
                else application_model.CLIENT_CONFIDENTIAL
            ),
            authorization_grant_type=(
                application_model.GRANT_AUTHORIZATION_CODE
                if kind == ClientKind.PATIENT_APP
                else application_model.GRANT_CLIENT_CREDENTIALS
            ),
            redirect_uris=" ".join(uris),
            client_secret=secret,
            skip_authorization=False,
        )
        try:
            application.full_clean(exclude=["user"])
        except Exception as error:  # DOT's validators: the redirect addresses
            raise ClientError(f"redirect_uri: {error}", "redirect_uri") from error
        application.save()
        client = FhirClient.objects.create(
            application=application, clinic=clinic, kind=kind, created_by=actor.user
        )
        audit_record(
            actor=actor,
            action=Action.CREATE,
            object_type="fhir_client",
            object_id=application.client_id,
            clinic=clinic,
            detail={"kind": kind, "name": name},
        )
    return client, secret


def fhir_client_revoke(*, actor: Actor, client: FhirClient) -> int:
    """Remove a client and every token it holds; returns how many tokens were revoked."""
    _require_admin(actor, client.clinic)
    application = client.application
    with transaction.atomic():
        tokens: int = get_access_token_model().objects.filter(application=application).count()
        audit_record(
            actor=actor,
            action=Action.DELETE,
            object_type="fhir_client",
            object_id=application.client_id,
            clinic=client.clinic,
            detail={"kind": client.kind, "tokens": tokens},
        )
        # Its exports go with it (cascade): their files first, once this commits.
        client_exports_delete(client)
        application.delete()  # its grants, tokens and our row go with it
    return tokens
