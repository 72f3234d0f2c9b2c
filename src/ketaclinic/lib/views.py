"""What thin views share: a service's refusal onto the form, and the signed-in user's clinic.

A view parses the form, calls one service and, when the service refuses (``ValidationError``,
nothing written), shows the same form again with the refusal under the field it names; these
helpers keep that flow worded the same way on every page.
"""

from __future__ import annotations

from typing import Protocol

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import Http404


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


class _HasClinic(Protocol):
    @property
    def clinic_id(self) -> int | None: ...


def user_clinic_id(user: _HasClinic) -> int:
    """The user's clinic, or a 404: a page scoped to a clinic shows nothing to anyone without
    one (a patient of no clinic, a half-made account), never another clinic's rows."""
    if user.clinic_id is None:
        raise Http404("Page not found")
    return user.clinic_id
