"""Logs for machines and error reports without patient data.

- ``JsonFormatter``: one JSON object a line (``LOG_FORMAT=json``) with the time, level, logger,
  message, the request's id and any exception's text. The paths in the message are masked
  before it gets here (``access_log.MaskPathsFilter`` on the handler); the exception's text is
  masked here. Logs stay on the operator's machines, like the database: an exception's message
  is kept, because that is where the cause is read.
- ``RequestIdMiddleware``: an id for each request, in every log line written while it is
  answered, in the ``X-Request-ID`` response header and in the error report, so that a report,
  the log lines and a user's "it failed at 10:32" meet.
- ``AdminErrorEmailHandler``: Django's ``mail_admins`` handler for ``django.request`` errors,
  writing its own report. Django's holds the request's GET and POST data, its cookies and
  headers, and every frame's local variables: a patient's record, name and answers. This one
  sends the exception's class, the route name, the masked path, the request's id and time and
  the traceback's frames (file, line, function), nothing else: not even the exception's
  message, which may quote a value. An email leaves the operator's machines.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import secrets
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.log import AdminEmailHandler

from ketaclinic.lib.access_log import mask_path, mask_text

#: The id of the request being answered in this thread (or task), for the logs and reports.
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

# What an id handed in by a proxy may look like (nginx's $request_id is 32 hex digits): anything
# else would let a client write what it likes into every log line of its request.
_ACCEPTED_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, and
    ``request_id`` and ``exception`` when there are."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = request_id.get()
        if current:
            entry["request_id"] = current
        if record.exc_info:
            entry["exception"] = mask_text(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = mask_text(record.exc_text)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class RequestIdMiddleware:
    """Gives each request an id: the proxy's (``X-Request-ID``) when the settings trust a proxy
    (``TRUSTED_PROXY_COUNT``) and it looks like an id, a new random one otherwise."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        trusted = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0)) > 0
        rid = given if trusted and _ACCEPTED_ID.fullmatch(given) else secrets.token_hex(16)
        request.request_id = rid  # type: ignore[attr-defined]
        token = request_id.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response["X-Request-ID"] = rid
        return response


def _frames(exc: BaseException) -> list[str]:
    """The traceback of ``exc`` and of the exceptions it was raised from or during, oldest first:
    each frame's file, line and function, each exception's class. No source line: the line that
    raised often spells out the message (``raise ValueError(f"... {name}")``)."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    lines: list[str] = []
    for i, error in enumerate(reversed(chain)):
        if i:
            lines.append("\nDuring handling of the above, or caused by it:\n")
        lines.append("Traceback (most recent call last):\n")
        lines.extend(
            f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}\n'
            for frame in traceback.extract_tb(error.__traceback__)
        )
        lines.append(f"{_class_path(type(error))} (message withheld)\n")
    return lines


def _class_path(cls: type[BaseException]) -> str:
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def error_report(record: logging.LogRecord, *, now: dt.datetime | None = None) -> tuple[str, str]:
    """The subject and body of the email about ``record`` (a ``django.request`` error)."""
    request = getattr(record, "request", None)
    exc_info: tuple[type[BaseException], BaseException, TracebackType | None] | None = None
    if record.exc_info and record.exc_info[0] is not None and record.exc_info[1] is not None:
        exc_info = (record.exc_info[0], record.exc_info[1], record.exc_info[2])
    error = _class_path(exc_info[0]) if exc_info else "No exception"
    match = getattr(request, "resolver_match", None) if request is not None else None
    view = str(match.view_name) if match is not None else "(no route)"
    status = getattr(record, "status_code", None)
    when = (now or dt.datetime.now(tz=dt.UTC)).isoformat(timespec="seconds")
    lines = [
        f"Error: {error}",
        f"View: {view}",
        f"Status: {status if status is not None else '-'}",
    ]
    if request is not None:
        lines.append(f"Request: {request.method} {mask_path(request.path)}")
        lines.append(f"Request id: {getattr(request, 'request_id', '') or request_id.get() or '-'}")
    lines.append(f"Time: {when}")
    lines.append("")
    lines.append("The request's data, cookies, headers and the frames' variables are left out:")
    lines.append("they may hold patient data. The logs have the same request id.")
    lines.append("")
    if exc_info is not None:
        lines.append("".join(_frames(exc_info[1])).rstrip("\n"))
    subject = f"{record.levelname}: {error} in {view}".replace("\n", " ").replace("\r", " ")
    return subject, "\n".join(lines) + "\n"


class AdminErrorEmailHandler(AdminEmailHandler):
    """``mail_admins`` for request errors, with ``error_report``'s body instead of Django's."""

    def emit(self, record: logging.LogRecord) -> None:
        if not settings.ADMINS:
            return
        try:
            subject, body = error_report(record)
        except Exception:
            # A report that cannot be written must not become a second error in the request.
            subject, body = f"{record.levelname}: an error report failed", "See the logs.\n"
        self.send_mail(self.format_subject(subject), body, fail_silently=True)
