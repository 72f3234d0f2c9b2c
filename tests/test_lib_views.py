"""The thin views' shared helpers (``lib/views.py``): a service's refusal lands on the form under
the field it names, and a page scoped to a clinic answers 404 to a user without one."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django import forms
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import Http404, HttpRequest
from django.test import RequestFactory

from ketaclinic.lib.views import errors_onto_form, run_action, saved_from_form, user_clinic_id


class NameForm(forms.Form):
    name = forms.CharField()


def test_a_refusal_naming_a_field_lands_under_it_and_others_on_top() -> None:
    form = NameForm({"name": "Ada"})
    assert form.is_valid()
    errors_onto_form(
        form,
        ValidationError(
            {
                "name": "Already taken.",
                "hidden_field": "Not on this form.",
                NON_FIELD_ERRORS: "The whole record.",
            }
        ),
    )
    assert form.errors["name"] == ["Already taken."]
    assert form.non_field_errors() == ["Not on this form.", "The whole record."]


def test_a_refusal_without_fields_lands_on_top() -> None:
    form = NameForm({"name": "Ada"})
    assert form.is_valid()
    errors_onto_form(form, ValidationError(["First.", "Second."]))
    assert form.non_field_errors() == ["First.", "Second."]
    assert "name" not in form.errors


def test_the_clinic_of_a_user_or_404() -> None:
    assert user_clinic_id(SimpleNamespace(clinic_id=7)) == 7
    with pytest.raises(Http404):
        user_clinic_id(SimpleNamespace(clinic_id=None))


def _post(data: dict[str, str]) -> HttpRequest:
    request = RequestFactory().post("/", data)
    request.session = {}  # type: ignore[assignment]
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    return request


def test_a_refused_save_returns_nothing_and_puts_the_refusal_on_the_form() -> None:
    request = _post({"name": "Ada"})
    form = NameForm(request.POST)

    def refuse() -> str:
        raise ValidationError({"name": "Already taken."})

    assert saved_from_form(request, form, refuse) is None
    assert form.errors["name"] == ["Already taken."]
    assert saved_from_form(request, NameForm(request.POST), lambda: "saved") == "saved"


def test_an_invalid_form_never_reaches_the_service() -> None:
    request = _post({})
    called: list[str] = []
    assert saved_from_form(request, NameForm(request.POST), lambda: called.append("x")) is None
    assert called == []


def test_a_refused_action_is_shown_as_messages_naming_the_field() -> None:
    request = _post({})

    def refuse() -> str:
        raise ValidationError({"name": "Already taken.", NON_FIELD_ERRORS: "Not now."})

    assert run_action(request, refuse, {"name": "Chair name"}) is None
    shown = sorted(str(m) for m in get_messages(request))
    assert shown == ["Chair name: Already taken.", "Not now."]
