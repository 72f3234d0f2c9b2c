"""Staff must enrol a second factor before any page with patient data (issue 15 item 1)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class StaffMFARequiredMiddleware:
    """Placeholder: passes every request through until the MFA gate is built."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)
