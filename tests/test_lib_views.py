"""The thin views' shared helpers (``lib/views.py``): a service's refusal lands on the form under
the field it names, and a page scoped to a clinic answers 404 to a user without one."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import Http404

from ketaclinic.lib.views import errors_onto_form, user_clinic_id


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
