from typing import Any

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from ketaclinic.api.api import api


def _api_urls() -> tuple[list[Any], str, str]:
    # The API decides access per operation (ninja ``auth``), answering 401 rather than redirecting
    # to the log-in page, so the site-wide log-in middleware steps aside for it.
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        callback = getattr(pattern, "callback", None)
        if callback is not None:
            callback.login_required = False
    return patterns, app_name, namespace


# The admin's own log-in form would sign an operator in with the password alone; allauth's asks
# for the second factor too (accounts/mfa_gate.py), so the admin sends visitors there.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

urlpatterns = [
    path("", include("ketaclinic.web.urls")),
    path("", include("ketaclinic.patients.urls")),
    path("", include("ketaclinic.audit.urls")),
    path("", include("ketaclinic.screening.urls")),
    path("", include("ketaclinic.scheduling.urls")),
    path("", include("ketaclinic.assessments.urls")),
    path("", include("ketaclinic.plans.urls")),
    path("", include("ketaclinic.clinics.urls")),
    path("", include("ketaclinic.infusions.urls")),
    path("", include("ketaclinic.outcomes.urls")),
    path("", include("ketaclinic.analytics.urls")),
    path("", include("ketaclinic.fhir.urls")),
    path("accounts/", include("ketaclinic.accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", _api_urls()),
    # Django's admin is for operators (superusers), never for clinic roles.
    path("operator/", admin.site.urls),
]
