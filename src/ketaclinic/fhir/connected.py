"""A patient's connected apps: the patient apps she authorized that can still read her record
(a live access token, or a refresh token not yet used up or revoked), and disconnecting one.

The consent page tells her she can revoke an app; this is where. Disconnecting ends every
token and code the app holds for her at once (its access for other patients is untouched), and
is audited against her record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from ketaclinic.accounts.models import User
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.fhir.bulk import app_exports_end
from ketaclinic.fhir.models import ClientKind, FhirClient
from ketaclinic.fhir.oauth import all_scopes


@dataclass(frozen=True)
class ConnectedApp:
    client: FhirClient
    since: datetime  # her first token for it still held
    reads: list[str]  # what its scopes let it do, in words
    until: datetime | None  # when its access ends, unless it may renew (None)


def connected_apps(user: User) -> list[ConnectedApp]:
    """The apps that can read her record now, the longest-connected first. Two queries."""
    now = timezone.now()
    if user.clinic_id is None:
        return []
    access = get_access_token_model().objects.filter(user=user, expires__gt=now)
    renewable = get_refresh_token_model().objects.filter(user=user, revoked__isnull=True)
    apps = (
        FhirClient.objects.filter(kind=ClientKind.PATIENT_APP, clinic_id=user.clinic_id)
        .filter(
            Q(application__in=access.values("application"))
            | Q(application__in=renewable.values("application"))
        )
        .select_related("application")
    )
    by_app = {client.application_id: client for client in apps}
    tokens = list(
        get_access_token_model()
        .objects.filter(user=user, application_id__in=by_app)
        .select_related("refresh_token")
        .order_by("created")
    )
    words = all_scopes()
    found: dict[int, ConnectedApp] = {}
    scopes: dict[int, set[str]] = {}
    for token in tokens:
        client = by_app[token.application_id]
        refresh = getattr(token, "refresh_token", None)
        live = token.expires > now or (refresh is not None and refresh.revoked is None)
        if not live:
            continue
        # What the app may do is what any of its live tokens may: all of them, not the last.
        held_scopes = scopes.setdefault(token.application_id, set())
        held_scopes.update(str(token.scope).split())
        held = found.get(token.application_id)
        renews = refresh is not None and refresh.revoked is None
        until = None if renews else token.expires
        found[token.application_id] = ConnectedApp(
            client=client,
            since=held.since if held else token.created,
            reads=[words.get(scope, scope) for scope in sorted(held_scopes)],
            until=None if (held and held.until is None) else until,
        )
    return sorted(found.values(), key=lambda app: app.since)


def connected_app_disconnect(*, actor: Actor, user: User, client_id: int) -> FhirClient:
    """End every token, refresh token and pending code of the app for her; 404 for an app she
    has not connected (or one of another clinic)."""
    if (
        actor.user is None
        or actor.user.pk != user.pk
        or not user.is_patient
        or user.clinic_id is None
    ):
        raise Http404("No such app")
    client = (
        FhirClient.objects.select_related("application")
        .filter(pk=client_id, kind=ClientKind.PATIENT_APP, clinic_id=user.clinic_id)
        .first()
    )
    if client is None:
        raise Http404("No such app")
    application = client.application
    with transaction.atomic():
        refresh = get_refresh_token_model().objects.filter(user=user, application=application)
        access = get_access_token_model().objects.filter(user=user, application=application)
        codes = get_grant_model().objects.filter(user=user, application=application)
        ended = access.count()
        live_refresh = refresh.filter(revoked__isnull=True).exists()
        if not ended and not live_refresh and not codes.exists():
            raise Http404("No such app")
        refresh.filter(revoked__isnull=True).update(revoked=timezone.now(), access_token=None)
        access.delete()
        codes.delete()  # a code she allowed moments ago, not yet exchanged, ends too
        audit_record(
            actor=actor,
            action=Action.DELETE,
            object_type="fhir_app_access",
            object_id=application.client_id,
            patient=user.patient,
            detail={"app": application.name, "tokens": ended},
        )
    app_exports_end(client=client, user=user)
    return client
