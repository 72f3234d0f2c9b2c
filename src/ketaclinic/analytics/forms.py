from __future__ import annotations

from typing import Any

from django import forms

from ketaclinic.clinics.models import Clinic, Location


class AnalyticsFilterForm(forms.Form):
    """The page's filters (GET). Locations are limited to the user's clinic."""

    date_from = forms.DateField(
        label="Series from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="Series to", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    location = forms.ModelChoiceField(
        queryset=Location.objects.none(), required=False, empty_label="All locations"
    )

    def __init__(self, *args: Any, clinic: Clinic, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["location"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Location.objects.filter(clinic=clinic).order_by("name")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "Series to must be on or after Series from.")
        return data
