"""FHIR's wire format: ``application/fhir+json`` responses, and every refusal as an
``OperationOutcome`` (FHIR R4 3.1.0.7: a server returns one with each 4xx and 5xx).

The diagnostics of an outcome never carry patient data: they name the parameter, the type or
the rule, never a value a person typed about a patient.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse

FHIR_JSON = "application/fhir+json"
FHIR_VERSION = "4.0.1"

# OperationOutcome.issue.code (http://hl7.org/fhir/issue-type) by HTTP status.
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    410: "deleted",
    415: "not-supported",
    422: "processing",
    429: "throttled",
    500: "exception",
}


class FhirError(Exception):
    """A refusal the API answers with an ``OperationOutcome`` and this status."""

    def __init__(
        self,
        status: int,
        diagnostics: str,
        *,
        code: str = "",
        expression: str = "",
        allow: tuple[str, ...] = (),
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.code = code or ISSUE_CODES.get(status, "processing")
        self.expression = expression
        self.allow = allow  # a 405's: the methods the address answers


def preferences(prefer: str) -> set[str]:
    """The preferences a ``Prefer`` header states (RFC 7240), lower case, each without its
    parameters: "Respond-Async; wait=10, handling=strict" is {"respond-async",
    "handling=strict"}."""
    stated = (part.split(";", 1)[0] for part in prefer.split(","))
    return {"".join(part.split()).lower() for part in stated} - {""}


def outcome(
    diagnostics: str, *, code: str, severity: str = "error", expression: str = ""
) -> dict[str, Any]:
    """An ``OperationOutcome`` with one issue."""
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def fhir_response(body: dict[str, Any], status: int = 200) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        status=status,
        content_type=f"{FHIR_JSON}; charset=utf-8",
    )
    return response


def error_response(error: FhirError) -> HttpResponse:
    response = fhir_response(
        outcome(error.diagnostics, code=error.code, expression=error.expression),
        status=error.status,
    )
    if error.status == 405:
        # RFC 9110 15.5.6: a 405 lists the methods the address answers (empty: none).
        response["Allow"] = ", ".join(error.allow)
    if error.status == 401:
        # RFC 6750 3: a request without a usable credential names the scheme it needs.
        response["WWW-Authenticate"] = 'Bearer realm="fhir"'
    return response
