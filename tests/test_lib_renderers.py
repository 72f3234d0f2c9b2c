"""Every form draws its fields and errors through the project's renderer (``lib/renderers.py``):
one field template whose ids the widget's aria-describedby names, and one error summary that
links each error to its field."""

from __future__ import annotations

from django import forms


class VisitForm(forms.Form):
    weight = forms.IntegerField(label="Weight (kg)", help_text="From today's scale.")
    side = forms.ChoiceField(
        label="Side", choices=[("left", "Left"), ("right", "Right")], widget=forms.RadioSelect
    )
    fasted = forms.BooleanField(label="Fasted", required=False)
    note = forms.CharField(label="Note", required=False)
    version = forms.IntegerField(widget=forms.HiddenInput)


class MarkedForm(VisitForm):
    mark_optional = True


def test_a_field_in_error_names_its_hint_and_its_error() -> None:
    form = VisitForm({"weight": "heavy", "version": "1"})
    html = str(form["weight"].as_field_group())
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_weight_helptext id_weight_error"' in html
    assert '<p class="hint" id="id_weight_helptext">' in html
    error = '<div id="id_weight_error"><p class="error">Weight (kg): Enter a whole number.</p>'
    assert error in html
    assert "has-error" in html


def test_a_group_of_choices_is_a_fieldset_named_by_its_legend() -> None:
    form = VisitForm({"weight": "70", "version": "1"})
    html = str(form["side"].as_field_group())
    assert '<fieldset class="choices" aria-describedby="id_side_error">' in html
    assert "<legend>Side</legend>" in html
    assert '<label for="id_side_0">' in html


def test_a_checkbox_sits_inside_its_label() -> None:
    html = str(VisitForm()["fasted"].as_field_group())
    assert '<label for="id_fasted" class="check"><input type="checkbox"' in html


def test_the_form_shows_one_summary_linking_each_error_to_its_field() -> None:
    form = VisitForm({"weight": "heavy"})
    html = str(form)
    assert html.count('class="error-summary"') == 1
    assert '<a href="#id_weight">Weight (kg)</a>: Enter a whole number.' in html
    assert '<a href="#id_side_0">Side</a>: This field is required.' in html
    assert "The form is incomplete (version): reload the page and try again." in html
    assert '<input type="hidden" name="version"' in html
    assert str(VisitForm()).count("error-summary") == 0


def test_only_a_form_that_asks_marks_its_optional_fields() -> None:
    assert "(optional)" not in str(VisitForm()["note"].as_field_group())
    marked = str(MarkedForm()["note"].as_field_group())
    assert '<label for="id_note">Note <span class="optional">(optional)</span></label>' in marked
    assert "(optional)" not in str(MarkedForm()["weight"].as_field_group())
