"""Automatic log-off: an idle time-out and an absolute limit (issue 15 item 2)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class SessionTimeoutMiddleware:
    """Placeholder: passes every request through until the time-outs are built."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)
