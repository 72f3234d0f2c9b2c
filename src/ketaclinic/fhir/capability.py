"""The CapabilityStatement at ``metadata``: exactly what this server serves, built from the
registry the views use, so it cannot promise what is not there."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from ketaclinic.fhir.http import FHIR_JSON, FHIR_VERSION
from ketaclinic.fhir.resources.registry import REGISTRY
from ketaclinic.fhir.search import DEFAULT_COUNT, MAX_COUNT

SEARCH_RULES = (
    f"Searches answer searchset Bundles of {DEFAULT_COUNT} resources (_count up to {MAX_COUNT}),"
    " in a stable order, with a next link while more remain. Repeated parameters must all"
    " match; comma-separated values may any. Dates take the prefixes eq, ne, lt, le, gt and"
    " ge. Unknown parameters are ignored and named in an OperationOutcome entry of the"
    " Bundle (handling=lenient), unless the request says Prefer: handling=strict, which"
    " refuses them with 400."
)
SECURITY = (
    "Reads need a signed-in session of the clinic's web app: staff read within their role and"
    " clinic, a patient her own record, exactly as the pages allow. Records outside that answer"
    " 404. Every read of patient data is audited."
)


def capability_statement(base: str) -> dict[str, Any]:
    resources = []
    for name in sorted(REGISTRY):
        kind = REGISTRY[name]
        resources.append(
            {
                "type": name,
                "documentation": kind.doc,
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "versioning": "no-version",
                "readHistory": False,
                "updateCreate": False,
                "searchParam": [
                    {"name": param, "type": spec.kind, "documentation": spec.doc}
                    for param, spec in kind.all_params.items()
                ],
            }
        )
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
                "security": {"cors": False, "description": SECURITY},
                "resource": resources,
            }
        ],
    }
