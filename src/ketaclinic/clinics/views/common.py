"""What the clinic settings pages share: the roles they admit and reading posted values.

The form-page flow (``saved_from_form``, ``form_page``) and the one-button action's
(``run_action``) are every app's, in ``lib/views.py``; they are re-exported here for the pages.
"""

from __future__ import annotations

from collections.abc import Iterable

from django import forms
from django.http import HttpRequest

from ketaclinic.accounts.models import Role
from ketaclinic.lib.views import form_page, run_action, saved_from_form

ADMIN = Role.CLINIC_ADMIN
PHYSICIAN = Role.PHYSICIAN

__all__ = [
    "ADMIN",
    "PHYSICIAN",
    "form_page",
    "form_values",
    "posted_bool",
    "posted_int",
    "run_action",
    "saved_from_form",
]


def form_values(form: forms.BaseForm, names: Iterable[str]) -> dict[str, object]:
    return {name: form.cleaned_data[name] for name in names}


def posted_bool(request: HttpRequest, name: str) -> bool:
    return request.POST.get(name) == "1"


def posted_int(request: HttpRequest, name: str) -> int | None:
    value = request.POST.get(name, "")
    return int(value) if value.isdigit() else None
