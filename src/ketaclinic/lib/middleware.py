"""Response headers every page carries (issue 15 item 6).

``Cache-Control: no-store`` keeps pages out of the browser's cache and any shared proxy's: after
signing out on a shared clinic computer, Back must not show the last patient's chart. Every page
made for a signed-in user gets it, and so does every other page the application draws (sign-in,
password reset, the pages behind emailed links, the self-check result): those show patient data
or secrets without a signed-in user. What keeps its caching: static files, and a public page
whose view chose its own ``Cache-Control``.

``Permissions-Policy`` turns off the browser features no page uses
(``settings.PERMISSIONS_POLICY``).
The Content-Security-Policy comes from django-csp's middleware, HSTS, Referrer-Policy and
nosniff from Django's ``SecurityMiddleware``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers


def _signed_in(request: HttpRequest) -> bool:
    # ``user`` is missing when a middleware above authentication answered (static files).
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


def _is_static(request: HttpRequest) -> bool:
    static_url = str(settings.STATIC_URL or "")
    return bool(static_url) and request.path.startswith(static_url)


class SecurityHeadersMiddleware:
    """No-store on every page drawn for someone, and the Permissions-Policy on every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if _signed_in(request):
            # Whatever the view said (add_never_cache_headers also makes it private): a
            # signed-in page may show patient data.
            add_never_cache_headers(response)
        elif not _is_static(request) and not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        if not response.has_header("Permissions-Policy"):
            response["Permissions-Policy"] = settings.PERMISSIONS_POLICY
        return response
