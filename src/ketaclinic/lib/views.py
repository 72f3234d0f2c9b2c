"""What thin views share: a service's refusal onto the form, the form-page and one-button flows,
and the signed-in user's clinic.

A view parses the form, calls one service and, when the service refuses (``ValidationError``,
nothing written), shows the same form again with the refusal under the field it names and status
422; a success redirects. A one-button action calls one service and returns to its page, a
refusal shown there as messages naming the field. The services return what they saved, never
``None``, so ``None`` means "not saved". Writing these flows once keeps status codes and the
placing of errors the same on every page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from django import forms
from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

T = TypeVar("T")


def errors_onto_form(form: forms.BaseForm, exc: ValidationError) -> None:
    """Put a service's refusal on the form: under the field it names when the form has that
    field, else at the top of the form (a rule about the whole record, or a field the form does
    not show)."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            target = name if name in form.fields and name != NON_FIELD_ERRORS else None
            form.add_error(target, errors)
    else:
        form.add_error(None, exc.messages)


def saved_from_form(request: HttpRequest, form: forms.BaseForm, save: Callable[[], T]) -> T | None:
    """What ``save`` (one service call) returned, on a valid POST; ``None`` on a GET, on an
    invalid form, or when the service refused, its refusal then shown on the form."""
    if request.method != "POST" or not form.is_valid():
        return None
    try:
        return save()
    except ValidationError as exc:
        errors_onto_form(form, exc)
        return None


def form_page(request: HttpRequest, template_name: str, context: Mapping[str, Any]) -> HttpResponse:
    """The form page; 422 when a posted form comes back, so a client sees it was not saved."""
    status = 422 if request.method == "POST" else 200
    return render(request, template_name, context, status=status)


def run_action(
    request: HttpRequest, action: Callable[[], T], labels: dict[str, str] | None = None
) -> T | None:
    """What a one-button action (one service call) returned; ``None`` when the service refused,
    its refusal then shown as messages on the page the action returns to."""
    try:
        return action()
    except ValidationError as exc:
        errors_as_messages(request, exc, labels or {})
        return None


def errors_as_messages(request: HttpRequest, exc: ValidationError, labels: dict[str, str]) -> None:
    """A refusal of a one-button action, shown on the page it returns to, field named."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            prefix = f"{labels.get(field, field)}: " if field != NON_FIELD_ERRORS else ""
            for error in errors:
                messages.error(request, f"{prefix}{error}")
    else:
        for error in exc.messages:
            messages.error(request, error)


class _HasClinic(Protocol):
    @property
    def clinic_id(self) -> int | None: ...


def user_clinic_id(user: _HasClinic) -> int:
    """The user's clinic, or a 404: a page scoped to a clinic shows nothing to anyone without
    one (a patient of no clinic, a half-made account), never another clinic's rows."""
    if user.clinic_id is None:
        raise Http404("Page not found")
    return user.clinic_id
