"""The REST API under /api/v1/ (django-ninja, OpenAPI at /api/v1/openapi.json).

Deny by default: every operation needs a signed-in session unless it passes ``auth=None`` and
holds no patient data (the instrument scoring endpoint).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema, Status
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import django_auth
from ninja.throttling import AnonRateThrottle

from ketaclinic.audit.api import client_ip
from ketaclinic.clinical import instruments

api = NinjaAPI(
    title="ketaclinic API",
    version="1",
    description="Clinic workflows for chronic neuropathic pain care. Scores are screening "
    "results, not diagnoses.",
    auth=django_auth,
    urls_namespace="api",
)


class ClientAddressThrottle(AnonRateThrottle):
    """Per client address as the audit trail records it (``client_ip``: REMOTE_ADDR, or the
    address the outermost of TRUSTED_PROXY_COUNT proxies saw); counters live in the shared
    cache."""

    def get_ident(self, request: HttpRequest) -> str | None:
        return client_ip(request)


score_throttle = ClientAddressThrottle(settings.API_SCORE_RATE)


class ScoreRequest(Schema):
    answers: dict[str, Any]


class ScoreOut(Schema):
    code: str
    total: float
    maximum: float
    cutoff: float | None
    positive: bool | None
    band: str
    source: str


class ErrorDetail(Schema):
    loc: list[str]
    msg: str
    type: str


class ErrorOut(Schema):
    detail: str | list[ErrorDetail]


# The refusals every operation may answer, documented so a client (and the schemathesis run in
# tests/security/test_api_fuzz.py) knows them: 400 for a body that is not JSON at all, 422 for
# JSON of the wrong shape, 429 when the caller's address is over its rate.
REFUSALS: dict[int, type[Schema]] = {400: ErrorOut, 422: ErrorOut, 429: ErrorOut}


@api.exception_handler(NinjaValidationError)
def request_invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    # Malformed JSON or a body of the wrong shape: a 422 with each problem's location,
    # the same envelope the instrument errors use.
    details = [
        {
            "loc": [str(part) for part in err.get("loc", [])],
            "msg": str(err.get("msg", "invalid")),
            "type": str(err.get("type", "invalid")),
        }
        for err in exc.errors
    ]
    return api.create_response(request, {"detail": details}, status=422)


@api.post(
    "/instruments/{code}/score",
    auth=None,
    response={200: ScoreOut, 404: ErrorOut, **REFUSALS},
    throttle=[score_throttle],
    tags=["instruments"],
    summary="Score a screening or outcome instrument",
    description="Public: holds no patient data. The result is a screening score, not a diagnosis.",
)
def score_instrument(request: HttpRequest, code: str, payload: ScoreRequest) -> Any:
    try:
        result = instruments.score(code, payload.answers)
    except instruments.UnknownInstrument:
        return Status(404, {"detail": f"Unknown instrument {code!r}."})
    except instruments.InvalidAnswers as exc:
        return Status(
            422,
            {
                "detail": [
                    {"loc": ["body", "answers", key], "msg": msg, "type": "invalid_answer"}
                    for key, msg in exc.errors.items()
                ]
            },
        )
    return Status(200, result)
