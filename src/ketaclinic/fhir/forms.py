"""The clinic admin's form to register a FHIR API client."""

from __future__ import annotations

from typing import Any

from django import forms

from ketaclinic.fhir.models import ClientKind


class ClientForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="How staff and patients will recognise it, e.g. the app's or system's name.",
    )
    kind = forms.ChoiceField(
        choices=ClientKind.choices,
        widget=forms.RadioSelect,
        help_text=(
            "A patient app reads one patient's record once she lets it in; a backend system"
            " reads every record of this clinic with its secret."
        ),
    )
    redirect_uri = forms.URLField(
        label="Redirect address",
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text="Patient apps only: where the app expects patients to return after signing in.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == ClientKind.PATIENT_APP and not data.get("redirect_uri"):
            self.add_error("redirect_uri", "A patient app needs its redirect address.")
        if data.get("kind") == ClientKind.BACKEND and data.get("redirect_uri"):
            self.add_error("redirect_uri", "A backend system has no redirect address.")
        return data
