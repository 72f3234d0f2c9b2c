"""Paths as the logs may show them: no query string, no secret in a path (issue 15 item 7).

Searches and filters post their terms and keep them in the session (the staff patient search,
the schedule's quick find, the audit filters), so no page of ours puts patient data in a query
string; query strings are still dropped, for an old bookmark or a hand-typed address. Emailed
links carry their secret in the path (password reset and email confirmation keys, staff
invitation tokens, the single-use appointment and diary links). A log line keeps the route and
loses the secret: ``/d/[token]/``, ``/staff/patients/``.

Two writers are covered: gunicorn's access log (``AccessLogger``, the logger class
``ketaclinic serve`` starts gunicorn with; it also masks gunicorn's own error log) and Django's
request logging (``MaskPathsFilter`` on the console handler in ``settings.LOGGING``). This
module imports neither Django nor the project: gunicorn's master loads it before Django starts.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

__all__ = ["SECRET_PATHS", "AccessLogger", "MaskPathsFilter", "mask_path", "mask_text"]

# Every route whose path carries a secret, with the words that replace it. allauth's own routes
# (allauth/account/urls.py) and the project's (``<str:token>`` in the apps' urls.py). A new
# route with a secret in its path belongs here, with a case in tests/web/test_access_log.py.
SECRET_PATHS: tuple[tuple[re.Pattern[str], str], ...] = (
    # allauth: email confirmation and password reset keys; the reset's "done" page is no key.
    (re.compile(r"^(/accounts/confirm-email/)[^/]+"), r"\1[key]"),
    (re.compile(r"^(/accounts/password/reset/key/)(?!done(?:/|$))[^/]+"), r"\1[key]"),
    # accounts / clinics: staff invitations.
    (re.compile(r"^(/clinic/staff/join/)[^/]+"), r"\1[token]"),
    # scheduling: cancel, reschedule and waitlist-offer links; outcomes: diary links.
    (re.compile(r"^(/a/)[^/]+"), r"\1[token]"),
    (re.compile(r"^(/d/)[^/]+"), r"\1[token]"),
)

# A path inside free text: after the start, a space, a quote or a bracket, optionally with its
# scheme and host (a Referer, a redirect target).
_PATH_IN_TEXT = re.compile(r"""(?P<origin>https?://[^/\s"'<>]*)?(?P<path>/[^\s"'<>]*)""")


def mask_path(path: str) -> str:
    """The path without its query string or fragment, with any secret segment replaced."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    for pattern, replacement in SECRET_PATHS:
        path = pattern.sub(replacement, path, count=1)
    return path


def mask_text(text: str) -> str:
    """``text`` with every path in it (a request line, a URL, a log message) masked."""
    return _PATH_IN_TEXT.sub(lambda m: (m.group("origin") or "") + mask_path(m.group("path")), text)


def _mask_url(value: str) -> str:
    return "-" if value in {"", "-"} else mask_text(value)


class MaskPathsFilter(logging.Filter):
    """Masks the paths in a record's message before any handler formats it (never drops it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg = masked
            record.args = None
        return True


class AccessLogger(GunicornLogger):
    """gunicorn's logger with the access log's paths masked and the error log filtered.

    The request line, the path and the query, the Referer (the previous page's full URL, query
    included) and any header or environment atom that repeats them are replaced before the line is
    formatted, whatever ``--access-logformat`` asks for.
    """

    _URL_ATOMS = ("{referer}i", "{raw_uri}e", "{path_info}e", "{http_referer}e", "{request_uri}e")
    _DROPPED_ATOMS = ("{query_string}e", "{cookie}i", "{http_cookie}e", "{authorization}i")

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        # "Error handling request /path?query" and the like.
        self.error_log.addFilter(MaskPathsFilter())

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> Any:
        atoms = super().atoms(resp, req, environ, request_time)
        path = mask_path(str(environ.get("RAW_URI") or environ.get("PATH_INFO") or ""))
        atoms["r"] = f"{environ['REQUEST_METHOD']} {path} {environ['SERVER_PROTOCOL']}"
        atoms["U"] = mask_path(str(environ.get("PATH_INFO") or ""))
        atoms["q"] = ""
        atoms["f"] = _mask_url(str(environ.get("HTTP_REFERER", "-")))
        for key in self._URL_ATOMS:
            if key in atoms:
                atoms[key] = _mask_url(str(atoms[key]))
        for key in self._DROPPED_ATOMS:
            if key in atoms:
                atoms[key] = "-"
        return atoms
