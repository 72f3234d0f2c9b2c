"""What the clinic settings pages share: the roles they admit, the form-page flow and the
one-button action's.

Every form page here runs the same way: on a valid POST it calls one service; a refusal goes back
onto the form and the page is shown again with status 422, a success redirects. A one-button
action calls one service and returns to its page, a refusal shown there as messages naming the
field. The services here return what they saved, never ``None``, so ``None`` means "not saved".
Writing these flows once keeps status codes and the placing of errors the same on every page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ketaclinic.accounts.models import Role
from ketaclinic.lib.views import errors_onto_form

ADMIN = Role.CLINIC_ADMIN
PHYSICIAN = Role.PHYSICIAN

T = TypeVar("T")


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
        _flash_errors(request, exc, labels or {})
        return None


def form_values(form: forms.BaseForm, names: Iterable[str]) -> dict[str, object]:
    return {name: form.cleaned_data[name] for name in names}


def _flash_errors(request: HttpRequest, exc: ValidationError, labels: dict[str, str]) -> None:
    """A refusal of a one-button action, shown on the page it returns to, field named."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            prefix = f"{labels.get(field, field)}: " if field != NON_FIELD_ERRORS else ""
            for error in errors:
                messages.error(request, f"{prefix}{error}")
    else:
        for error in exc.messages:
            messages.error(request, error)


def posted_bool(request: HttpRequest, name: str) -> bool:
    return request.POST.get(name) == "1"


def posted_int(request: HttpRequest, name: str) -> int | None:
    value = request.POST.get(name, "")
    return int(value) if value.isdigit() else None
