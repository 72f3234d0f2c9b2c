"""The project's routes plus two that fail on purpose, for the error-page tests."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import include, path


@login_not_required
def fails(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("Alice Moreno's record could not be read")


@login_not_required
def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied("Alice Moreno's record")


urlpatterns = [
    path("test-fails/", fails),
    path("test-forbidden/", forbidden),
    path("", include("ketaclinic.urls")),
]
