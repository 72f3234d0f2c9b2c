"""Issue 15 item 10: no number typed into a form gives a server error, and none is saved.

Every page of the authorization matrix is opened as the persona who writes on it; the number
fields come from the Django forms the page was drawn with (``response.context``), so a field
added later is walked without touching this file. Each one is sent, in the form the page drew it
in and otherwise as drawn, with a huge number (400 digits), a negative one, NaN, infinity and a
word. The answer is a 4xx page or the form shown again with a message on that field, and nothing
changed: no row, no write in the audit trail.
"""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.test import Client

from ketaclinic.audit.models import Action, AuditEvent
from tests.conftest import World
from tests.security.walk import (
    NUMERIC_FIELDS,
    PageForm,
    context_forms,
    flat,
    numeric_fields,
    page_forms,
    personas_allowed,
    route_kwargs,
    row_counts,
    url_for,
    writer_for,
)
from tests.test_authorization_matrix import MATRIX

BAD_NUMBERS = {
    "huge": "9" * 400,
    "negative": "-1",
    "nan": "NaN",
    "infinity": "Infinity",
    "word": "twelve",
}


def _bad_numbers(field: forms.Field) -> dict[str, str]:
    """The bad values for one field: a negative one is below its floor (a scale that goes below
    zero, such as the RASS, allows -1)."""
    low = getattr(field, "min_value", None)
    if low is not None and low < 0:
        return {**BAD_NUMBERS, "negative": str(low - 1)}
    return BAD_NUMBERS


WALKED = sorted(name for name in MATRIX if personas_allowed(name))


def _writes() -> int:
    return AuditEvent.objects.exclude(action__in=[Action.READ, Action.EXPORT]).count()


def _form_with(forms_drawn: list[PageForm], html_name: str) -> PageForm | None:
    return next((f for f in forms_drawn if html_name in f.types), None)


def _refused_on(response: Any, html_name: str) -> bool:
    """The form came back with a message on this field (prefixes included)."""
    for form in context_forms(response):
        for name in form.errors:
            if form.add_prefix(name) == html_name:
                return True
    return False


def _send(client: Client, form: PageForm, data: dict[str, list[str]]) -> Any:
    if form.method == "post":
        return client.post(form.action, flat(data))
    return client.get(form.action, flat(data))


def _fuzz(
    client: Client, url: str, name: str, html_name: str, field: forms.Field, hidden: bool
) -> None:
    for label, value in _bad_numbers(field).items():
        form = _form_with(page_forms(client.get(url), url), html_name)
        assert form is not None, (name, html_name)
        data = {**form.submissions()[0], html_name: [value]}
        rows, written = row_counts(), _writes()
        response = _send(client, form, data)
        where = (name, html_name, label, response.status_code)
        assert response.status_code < 500, where
        if form.method == "get":
            # A filter or a page number: a clear 4xx or the page drawn with the field refused.
            assert 400 <= response.status_code < 500 or _refused_on(response, html_name), where
            continue
        if hidden:
            # A hidden number (the version a form was opened at) is not the person's typing: any
            # refusal will do, as long as nothing is saved.
            assert response.status_code != 302 or _writes() == written, where
        else:
            refused = 400 <= response.status_code < 500 and (
                response.status_code != 422 or _refused_on(response, html_name)
            )
            assert refused or _refused_on(response, html_name), where
        assert _writes() == written, where
        assert row_counts() == rows, where


@pytest.mark.parametrize("name", WALKED)
def test_no_number_typed_into_a_form_gives_a_server_error_or_is_saved(
    client_for: Any, world: World, name: str
) -> None:
    persona = writer_for(name)
    assert persona is not None
    client = client_for(persona)
    url = url_for(name, route_kwargs(world, name))
    first = client.get(url)
    drawn = page_forms(first, url)
    for html_name, (form, field_name) in numeric_fields(first).items():
        if _form_with(drawn, html_name) is None:
            continue  # in the context, not drawn on this page
        field = form.fields[field_name]
        hidden = isinstance(field.widget, forms.HiddenInput)
        _fuzz(client, url, name, html_name, field, hidden)


@pytest.mark.parametrize("name", WALKED)
def test_every_number_field_on_a_page_has_explicit_bounds(
    client_for: Any, world: World, name: str
) -> None:
    persona = writer_for(name)
    assert persona is not None
    url = url_for(name, route_kwargs(world, name))
    response = client_for(persona).get(url)
    for form in context_forms(response):
        for field_name, field in form.fields.items():
            if not isinstance(field, NUMERIC_FIELDS):
                continue
            where = (name, type(form).__name__, field_name)
            assert getattr(field, "min_value", None) is not None, where
            if isinstance(field, forms.DecimalField):
                assert field.max_digits is not None, where
                assert field.decimal_places is not None, where
            else:
                assert getattr(field, "max_value", None) is not None, where


def _project_form_classes() -> list[type[forms.BaseForm]]:
    import importlib
    import inspect
    import pkgutil

    import ketaclinic

    found: dict[str, type[forms.BaseForm]] = {}
    for module_info in pkgutil.walk_packages(ketaclinic.__path__, "ketaclinic."):
        if not module_info.name.rsplit(".", 1)[-1].startswith("forms"):
            continue
        module = importlib.import_module(module_info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, forms.BaseForm) and cls.__module__.startswith("ketaclinic."):
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[key] for key in sorted(found)]


def test_every_declared_number_field_of_every_form_has_explicit_bounds() -> None:
    """The forms a page draws only in some state (a chart mid-infusion, a diary day) too."""
    classes = _project_form_classes()
    assert classes
    for cls in classes:
        declared: dict[str, forms.Field] = getattr(cls, "base_fields", {})
        for field_name, field in declared.items():
            if not isinstance(field, NUMERIC_FIELDS):
                continue
            where = (cls.__module__, cls.__qualname__, field_name)
            assert getattr(field, "min_value", None) is not None, where
            if isinstance(field, forms.DecimalField):
                assert field.max_digits is not None, where
                assert field.decimal_places is not None, where
            else:
                assert getattr(field, "max_value", None) is not None, where


@pytest.mark.parametrize(
    "name",
    ["systolic_bp", "diastolic_bp", "heart_rate", "spo2", "respiratory_rate", "pain_nrs"],
)
def test_a_consultation_refuses_a_400_digit_number_by_name_on_any_path(
    world: World, name: str
) -> None:
    """The six consultation fields that answered a 500: the record's own check (the path a
    service or a script takes around the form) names the field instead of failing to print it."""
    from django.core.exceptions import ValidationError

    from tests.factories.assessments import complete

    consultation = complete(world)
    setattr(consultation, name, int(BAD_NUMBERS["huge"]))
    with pytest.raises(ValidationError) as refused:
        consultation.full_clean()
    assert refused.value.message_dict[name]
    # The range check itself, which used to fail formatting the number for its message.
    with pytest.raises(ValidationError) as refused:
        consultation.clean()
    assert "the number entered is outside that range" in refused.value.message_dict[name][0]
