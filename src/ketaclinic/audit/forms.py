from __future__ import annotations

from typing import Any

from django import forms

from ketaclinic.audit import labels


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(required=False, label="What was done")
    object_type = forms.ChoiceField(required=False, label="Record")
    actor = forms.CharField(required=False, max_length=200, label="Staff email")
    record_number = forms.CharField(required=False, max_length=20)
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # In words; the codes they stand for are the values, so filtering matches the trail.
        action = self.fields["action"]
        assert isinstance(action, forms.ChoiceField)
        action.choices = [("", "Anything"), *labels.action_choices()]
        record = self.fields["object_type"]
        assert isinstance(record, forms.ChoiceField)
        record.choices = [("", "Any record"), *labels.object_choices()]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return data
