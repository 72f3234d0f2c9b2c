"""The shell's pages: landing, health, readiness and metrics, role homes, the patient's own
details, the clinic overview. Thin views: parse, authorize (role gate plus the aggregate's access
helper), call, render.

The staff patient pages are in ``patients/views.py``, the audit page in ``audit/views.py``.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from ketaclinic.accounts.api import not_activity, roles_required, signed_in_user
from ketaclinic.accounts.models import Role, User
from ketaclinic.audit.api import Actor
from ketaclinic.clinics.api import clinic_overview
from ketaclinic.patients import api as patients_api
from ketaclinic.web import health, worklists
from ketaclinic.web import metrics as metrics_export


@login_not_required
@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "web/landing.html")


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """The process answers: it touches nothing (a database outage is ``readyz``'s to report, and
    must not get a healthy process restarted)."""
    return JsonResponse({"status": "ok"})


@login_not_required
@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    """Database, cache, queue, the worker's heartbeat, the periodic jobs: each check by name and
    state, 200 when all pass, 503 otherwise (``web/health.py``). Public, unaudited: it reads no
    patient data."""
    checks = health.readiness(timezone.now())
    ready = all(check.passed for check in checks)
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": [c.as_json() for c in checks]},
        status=200 if ready else 503,
    )


@login_not_required
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """The Prometheus metrics (``web/metrics.py``): off (404) without ``METRICS_TOKEN``, 401
    without the token."""
    allowed = metrics_export.scrape_allowed(request)
    if allowed is None:
        raise Http404
    if not allowed:
        response = HttpResponse(
            "A bearer token is required.\n", status=401, content_type="text/plain; charset=utf-8"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = metrics_export.scrape(request.headers.get("Accept", ""))
    return HttpResponse(body, content_type=content_type)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if isinstance(user, User) and user.is_patient and hasattr(user, "patient"):
        # patient_detail writes the page's one read event; the rest of her home is unaudited.
        patient = patients_api.patient_detail(
            actor=Actor.from_request(request), public_id=str(user.patient.public_id)
        )
        return render(
            request,
            "web/home_patient.html",
            {"patient": patient, "home": worklists.patient_home(patient=patient)},
        )
    if isinstance(user, User) and user.is_clinic_staff:
        worklist = worklists.worklist_read(actor=Actor.from_request(request))
        return render(request, f"web/home_{user.role}.html", {"worklist": worklist})
    # Signed in but with no clinic role (e.g. an operator account): nothing clinical to show.
    return render(request, "web/home_none.html")


@not_activity
@require_GET
def nav_counts(request: HttpRequest) -> HttpResponse:
    """The number beside "Home" in the navigation, fetched by htmx after the page has loaded
    so that no page pays for it; without JavaScript the navigation simply has no number."""
    user = signed_in_user(request)
    return render(request, "web/_nav_count.html", {"count": worklists.nav_count(user)})


@roles_required(Role.PATIENT)
@require_GET
def my_record(request: HttpRequest) -> HttpResponse:
    patient = patients_api.patient_detail(
        actor=Actor.from_request(request),
        public_id=str(signed_in_user(request).patient.public_id),
    )
    return render(request, "web/my_record.html", {"patient": patient})


@roles_required(Role.CLINIC_ADMIN)
@require_GET
def clinic_page(request: HttpRequest) -> HttpResponse:
    overview = clinic_overview(user=signed_in_user(request))
    return render(request, "web/clinic_overview.html", {"overview": overview})
