"""The FHIR R4 API's endpoints (``/fhir/R4/``): thin, as every page is. Every answer is FHIR
JSON; every refusal an ``OperationOutcome`` (unknown paths and methods, and errors, too)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    QueryDict,
)
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from ketaclinic.fhir import selectors, writes
from ketaclinic.fhir.access import reader_of
from ketaclinic.fhir.capability import capability_statement, smart_configuration_of
from ketaclinic.fhir.http import FhirError, error_response, fhir_response, preferences
from ketaclinic.fhir.pages import PAGES, pages_query, pages_token

logger = logging.getLogger(__name__)

# What ``_format`` may ask for: JSON is the only format served.
JSON_FORMATS = frozenset({"json", "application/json", "application/fhir+json"})

View = Callable[..., HttpResponseBase]


def fhir_endpoint(view: View, methods: tuple[str, ...] | None = ("GET", "HEAD")) -> View:
    """``methods`` only (GET by default; a view that says itself which methods each of its
    addresses answers has None); ``_format`` must ask for JSON; every refusal and error as an
    OperationOutcome (an unexpected error is logged by the view's name and type only: no
    patient data)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            if methods is not None and request.method not in methods:
                raise FhirError(
                    405,
                    f"{request.method} is not supported here (this address answers"
                    f" {', '.join(methods)}).",
                    allow=methods,
                )
            wanted = request.GET.get("_format")
            if wanted and wanted.split(";")[0].strip() not in JSON_FORMATS:
                raise FhirError(406, "Only JSON is served (_format=json).", code="not-supported")
            return view(request, *args, **kwargs)
        except FhirError as error:
            return error_response(error)
        except Http404:
            return error_response(FhirError(404, "Not found."))
        except RequestDataTooBig:
            # Django's limits on what it reads of a request (settings DATA_UPLOAD_MAX_*): the
            # client's to mend, not a failure of the server.
            return error_response(FhirError(413, "The request is too large.", code="too-long"))
        except TooManyFieldsSent:
            return error_response(
                FhirError(400, "The request has too many parameters.", code="too-costly")
            )
        except Exception as exc:
            logger.error("FHIR %s failed: %s", view.__name__, type(exc).__name__, exc_info=True)
            return error_response(FhirError(500, "The server failed to answer; it is logged."))

    # The API is read by programs with a session or (later) a token, never by a form; it
    # answers a missing sign-in itself, with FHIR's 401 rather than the pages' redirect.
    return login_not_required(csrf_exempt(wrapped))


def _base(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("fhir:base"))


def _csrf_refused(request: HttpRequest) -> bool:
    check = CsrfViewMiddleware(lambda _: HttpResponse())
    return check.process_view(request, None, (), {}) is not None  # type: ignore[arg-type]


def _strict(request: HttpRequest) -> bool:
    return "handling=strict" in preferences(request.headers.get("Prefer", ""))


@fhir_endpoint
def metadata(request: HttpRequest) -> HttpResponse:
    # Public, as FHIR servers publish it: it holds no clinic's data.
    return fhir_response(capability_statement(_base(request)))


@fhir_endpoint
def smart_configuration(request: HttpRequest) -> HttpResponse:
    # SMART App Launch 2.0 2.0.7 (discovery): plain JSON, public.
    return JsonResponse(smart_configuration_of(request.build_absolute_uri("/")))


@fhir_endpoint
def search(request: HttpRequest, type_name: str) -> HttpResponse:
    reader = reader_of(request)
    query: QueryDict = request.GET
    sealed = ""
    if PAGES in query:
        # The next page of a POSTed search: its terms sealed in the link, sealed again for the
        # page after (each link good for PAGES_TTL from its page).
        query = pages_query(reader, type_name, query)
        sealed = pages_token(reader, type_name, query)
    bundle = selectors.fhir_search(
        reader=reader,
        type_name=type_name,
        query=query,
        strict=_strict(request),
        base=_base(request),
        sealed=sealed,
    )
    return fhir_response(bundle)


def search_by_post(request: HttpRequest, type_name: str) -> HttpResponse:
    # ``POST [type]/_search`` (R4 3.1.1.4.1): the parameters in a form body, so a search by
    # name or birth date leaves no trace in addresses (browser history, proxies' logs).
    bearer = request.headers.get("Authorization", "").lower().startswith("bearer ")
    if not bearer and _csrf_refused(request):
        # A browser's session must not be made to search by another site's form.
        raise FhirError(403, "A search by a signed-in browser needs its CSRF token.")
    if request.content_type != "application/x-www-form-urlencoded":
        raise FhirError(
            415, "Send the search parameters as application/x-www-form-urlencoded.", code="invalid"
        )
    reader = reader_of(request)
    # Parameters may come in the address too (R4 3.1.1.4.1): one search of them all.
    query = request.GET.copy()
    for name, given in request.POST.lists():
        query.setlist(name, query.getlist(name) + given)
    bundle = selectors.fhir_search(
        reader=reader,
        type_name=type_name,
        query=query,
        strict=_strict(request),
        base=_base(request),
        # Its page links carry its terms sealed: an address never holds them (fhir.pages).
        sealed=pages_token(reader, type_name, query),
    )
    return fhir_response(bundle)


search_post = fhir_endpoint(search_by_post, methods=("POST",))


def _search_or_create(request: HttpRequest, type_name: str) -> HttpResponseBase:
    # ``[type]``: GET searches (R4 3.1.1.4), POST creates (3.1.0.5), for the types that are
    # created here only (the pain diary's QuestionnaireResponse); any other type's POST is 405.
    kind = selectors.resource_type(type_name)  # a type not served is a 404, whatever the method
    allowed = ("GET", "HEAD", "POST") if kind.name in writes.CREATABLE else ("GET", "HEAD")
    if request.method not in allowed:
        raise FhirError(
            405,
            f"{kind.name} is read and searched here, not {request.method}: the one write is a"
            " POST of a QuestionnaireResponse for the pain diary.",
            allow=allowed,
        )
    if request.method != "POST":
        return search(request, type_name)
    reader = reader_of(request)
    bearer = request.headers.get("Authorization", "").lower().startswith("bearer ")
    writes.require_writer(reader)
    if not bearer and _csrf_refused(request):
        # A patient's signed-in browser must not be made to write by another site's form.
        raise FhirError(403, "A write by a signed-in browser needs its CSRF token.")
    try:
        body = request.body
    except RequestDataTooBig:
        raise FhirError(413, "The resource is too large.", code="too-long") from None
    created = writes.questionnaire_response_create(
        reader=reader, body=body, content_type=request.content_type or ""
    )
    response = fhir_response(created, status=201)
    response["Location"] = f"{_base(request)}{kind.name}/{created['id']}"
    return response


search_or_create = fhir_endpoint(_search_or_create, methods=None)


@fhir_endpoint
def read(request: HttpRequest, type_name: str, resource_id: str) -> HttpResponse:
    resource = selectors.fhir_read(
        reader=reader_of(request), type_name=type_name, resource_id=resource_id
    )
    return fhir_response(resource)


@fhir_endpoint
def unknown(request: HttpRequest, rest: str = "") -> HttpResponse:
    raise FhirError(404, "Nothing is served at this address.", code="not-supported")
