"""Authorization-matrix rows for the FHIR API (merged by tests/test_authorization_matrix.py).

A program without a session gets FHIR's 401 (not the pages' redirect to the log-in page);
records outside the reader's scope answer 404, as the pages do."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.authz import ADMIN_PAGE, DENY, GONE, LOGIN, OK, PATIENT_PAGE, PUBLIC
from tests.conftest import World
from tests.factories.outcomes import ready_letter

UNAUTHORIZED = 401
#                   anon          alice  bob    desk   nurse  phys   admin  other_phys
SIGNED_IN_READ = (UNAUTHORIZED, OK, OK, OK, OK, OK, OK, OK)
ALICE_RECORD = (UNAUTHORIZED, OK, DENY, OK, OK, OK, OK, DENY)


def _patients(world: World) -> dict[str, Any]:
    return {"type_name": "Patient"}


def _alice(world: World) -> dict[str, Any]:
    return {"type_name": "Patient", "resource_id": world.alice_patient.public_id}


# A POST-only action of the clinic admin: a 405 on GET for her, a 404 for everyone else.
ADMIN_POST_ONLY = (LOGIN, DENY, DENY, DENY, DENY, DENY, GONE, DENY)


def _our_client(world: World) -> dict[str, Any]:
    from ketaclinic.audit.api import Actor
    from ketaclinic.fhir.services import fhir_client_register

    client, _ = fhir_client_register(
        actor=Actor(user=None), clinic=world.clinic, name="Registry", kind="backend"
    )
    return {"client_id": client.pk}


FORBIDDEN = 403
NO_PREFER = 400  # allowed, but a GET without ``Prefer: respond-async`` is refused


def _admins_export(world: World) -> Any:
    """A finished export of the clinic admin's session, with one file."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.utils import timezone

    from ketaclinic.fhir.models import BulkExport, BulkExportFile

    now = timezone.now()
    export = BulkExport.objects.create(
        clinic=world.clinic, user=world.clinic_admin, level="system", types=["Patient"],
        request_url="http://testserver/fhir/R4/$export", status="done", requested_at=now,
        finished_at=now, expires_at=now + dt.timedelta(hours=1),
    )  # fmt: skip
    line = b'{"resourceType":"Patient","id":"00000000-0000-4000-8000-000000000000"}\n'
    name = default_storage.save(f"fhir-export/{export.public_id}/Patient.ndjson", ContentFile(line))
    return BulkExportFile.objects.create(
        export=export, resource_type="Patient", name=name, status="done", count=1, size=len(line)
    )


def _alices_app(world: World) -> dict[str, Any]:
    """A patient app Alice connected (a live token of hers)."""
    from django.utils import timezone
    from oauth2_provider.models import AccessToken

    from ketaclinic.audit.api import Actor
    from ketaclinic.fhir.services import fhir_client_register

    client, _ = fhir_client_register(
        actor=Actor(user=None), clinic=world.clinic, name="Diary app", kind="patient_app",
        redirect_uris=["https://app.example/back"],
    )  # fmt: skip
    AccessToken.objects.create(
        user=world.alice, application=client.application, token="matrix-token",
        expires=timezone.now() + dt.timedelta(hours=1), scope="patient/*.read",
    )  # fmt: skip
    return {"client_id": client.pk}


ENTRIES: dict[str, Any] = {
    "fhir:clients": (ADMIN_PAGE, None),
    "fhir:client_revoke": (ADMIN_POST_ONLY, _our_client),
    # The authorization page needs a session (then refuses a request without a client); the
    # token and revocation endpoints answer programs, and a GET is not theirs.
    "fhir:authorize": ((LOGIN,) + (400,) * 7, None),
    "fhir:token": ((GONE,) * 8, None),
    "fhir:revoke": ((GONE,) * 8, None),
    "fhir:smart_configuration": (PUBLIC, None),
    "fhir:metadata": (PUBLIC, None),
    "fhir:base": ((DENY,) * 8, None),
    "fhir:unknown": ((DENY,) * 8, lambda w: {"rest": "Patient/x/_history"}),
    "fhir:search": (SIGNED_IN_READ, _patients),
    # POST only (a search with its parameters in the body).
    "fhir:search_post": ((GONE,) * 8, _patients),
    "fhir:read": (ALICE_RECORD, _alice),
    "fhir:my_apps": (PATIENT_PAGE, None),
    # POST only: a 405 on GET for a patient, a 404 for everyone else.
    "fhir:my_app_disconnect": ((LOGIN, GONE, GONE) + (DENY,) * 5, _alices_app),
    # Bulk export: the clinic's admin (and its registered systems) at every level, a patient
    # her own record; other staff use the pages. Each export is its requester's alone.
    "fhir:export": (
        (UNAUTHORIZED, FORBIDDEN, FORBIDDEN) + (FORBIDDEN,) * 3 + (NO_PREFER, FORBIDDEN),
        None,
    ),
    "fhir:export_patients": (
        (UNAUTHORIZED, NO_PREFER, NO_PREFER) + (FORBIDDEN,) * 3 + (NO_PREFER, FORBIDDEN),
        None,
    ),
    "fhir:export_group": (
        (UNAUTHORIZED, FORBIDDEN, FORBIDDEN) + (FORBIDDEN,) * 3 + (NO_PREFER, FORBIDDEN),
        lambda w: {"group_id": w.cleveland.public_id},
    ),
    "fhir:export_status": (
        (UNAUTHORIZED,) + (DENY,) * 5 + (OK, DENY),
        lambda w: {"export_id": _admins_export(w).export.public_id},
    ),
    "fhir:export_file": (
        (UNAUTHORIZED,) + (DENY,) * 5 + (OK, DENY),
        lambda w: {"file_id": _admins_export(w).public_id},
    ),
    # A letter's PDF: the letters page's readers (clinical staff), so not Alice herself.
    "fhir:binary": (
        (UNAUTHORIZED, DENY, DENY, DENY, OK, OK, OK, DENY),
        lambda w: {"resource_id": ready_letter(w).public_id},
    ),
}
