"""The CapabilityStatement at ``metadata``: exactly what this server serves, built from the
registry the views use, so it cannot promise what is not there."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone

from ketaclinic.fhir.http import FHIR_JSON, FHIR_VERSION
from ketaclinic.fhir.oauth import all_scopes
from ketaclinic.fhir.resources.registry import REGISTRY
from ketaclinic.fhir.search import DEFAULT_COUNT, MAX_COUNT
from ketaclinic.fhir.writes import CREATABLE

SEARCH_RULES = (
    f"Searches answer searchset Bundles of {DEFAULT_COUNT} resources (_count up to {MAX_COUNT}),"
    " in a stable order, with a next link while more remain. Repeated parameters must all"
    " match; comma-separated values may any. Dates take the prefixes eq, ne, lt, le, gt and"
    " ge. Unknown parameters are ignored and named in an OperationOutcome entry of the"
    " Bundle (handling=lenient), unless the request says Prefer: handling=strict, which"
    " refuses them with 400."
)
SECURITY = (
    "SMART on FHIR: a patient app reads its patient's record with a token from the"
    " authorization-code flow with PKCE (S256), a backend system its clinic's records with a"
    " token from client credentials; each client is registered for one clinic. A signed-in"
    " session of the web app reads too, exactly as the pages allow: the clinical staff every"
    " record of their clinic; the front desk its directory, patients and schedule; a patient"
    " her own details, appointments, pain diary and signed plan (her app the same), never the"
    " clinical notes. Records outside that answer 404; a type the token's scopes do not name,"
    " 403. Every read of patient data is audited. The audit trail"
    " (AuditEvent) is read by the clinic's admins, signed in, only. The one write, a"
    " QuestionnaireResponse for the pain diary, is the patient's: her app's token with"
    " patient/QuestionnaireResponse.write, or her own session."
)
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
# Served apart from the registry (fhir/binary.py): read only, never searched.
BINARY = {
    "type": "Binary",
    "documentation": (
        "A progress letter's PDF, named by its DocumentReference's attachment url: the PDF"
        " itself (Accept: application/pdf or */*), or the Binary in FHIR JSON."
    ),
    "interaction": [{"code": "read"}],
    "versioning": "no-version",
    "readHistory": False,
    "updateCreate": False,
}


def _endpoints(root: str) -> dict[str, str]:
    root = root.rstrip("/")
    return {
        "authorize": f"{root}{reverse('fhir:authorize')}",
        "token": f"{root}{reverse('fhir:token')}",
        "revoke": f"{root}{reverse('fhir:revoke')}",
    }


def smart_configuration_of(root: str) -> dict[str, Any]:
    """``.well-known/smart-configuration``: where to authorize, and what is supported."""
    endpoints = _endpoints(root)
    return {
        "authorization_endpoint": endpoints["authorize"],
        "token_endpoint": endpoints["token"],
        "revocation_endpoint": endpoints["revoke"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": sorted(all_scopes()),
        "capabilities": [
            "launch-standalone",
            "client-public",
            "client-confidential-symmetric",
            "context-standalone-patient",
            "permission-patient",
            "permission-offline",
            "permission-v1",
        ],
    }


def capability_statement(base: str) -> dict[str, Any]:
    resources = []
    for name in sorted(REGISTRY):
        kind = REGISTRY[name]
        resources.append(
            {
                "type": name,
                "documentation": kind.doc,
                # ``create``: the API's one write (fhir/writes.py), for these types only.
                "interaction": [
                    {"code": code}
                    for code in (*kind.interactions, *(("create",) if name in CREATABLE else ()))
                ],
                "versioning": "no-version",
                "readHistory": False,
                "updateCreate": False,
                "searchParam": [
                    {"name": param, "type": spec.kind, "documentation": spec.doc}
                    for param, spec in kind.all_params.items()
                ],
            }
        )
    resources = sorted([*resources, BINARY], key=lambda resource: str(resource["type"]))
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": timezone.localdate().isoformat(),
        "publisher": "ketaclinic",
        "kind": "instance",
        "software": {"name": "ketaclinic"},
        "implementation": {"description": "ketaclinic FHIR R4 API", "url": base.rstrip("/")},
        "fhirVersion": FHIR_VERSION,
        "format": [FHIR_JSON, "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": SEARCH_RULES,
                "security": {
                    "cors": False,
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": (
                                        "http://terminology.hl7.org/CodeSystem/"
                                        "restful-security-service"
                                    ),
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "extension": [
                        {
                            "url": OAUTH_URIS,
                            "extension": [
                                {"url": name, "valueUri": uri}
                                for name, uri in _endpoints(base.split("/fhir/", 1)[0]).items()
                            ],
                        }
                    ],
                    "description": SECURITY,
                },
                "resource": resources,
            }
        ],
    }
