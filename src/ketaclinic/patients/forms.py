from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from ketaclinic.clinics.models import Location
from ketaclinic.lib.forms import hidden_number_field
from ketaclinic.patients.models import Patient, Sex
from ketaclinic.patients.search import DATE_FORMATS_HINT, parse_patient_query


class PatientForm(forms.Form):
    mark_optional = True  # the field template marks optional fields "(optional)"

    given_name = forms.CharField(max_length=100)
    family_name = forms.CharField(max_length=100)
    date_of_birth = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    sex = forms.ChoiceField(choices=Sex.choices, label="Sex assigned at birth")
    email = forms.EmailField(required=False)
    phone = forms.CharField(max_length=40, required=False)
    home_location = forms.ModelChoiceField(queryset=Location.objects.none(), required=False)
    referring_physician = forms.CharField(max_length=200, required=False)
    referring_physician_email = forms.EmailField(required=False)
    version = hidden_number_field(required=False)

    def __init__(self, *args: Any, clinic_id: int | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["home_location"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = (
            Location.objects.filter(clinic_id=clinic_id)
            if clinic_id is not None
            else Location.objects.none()
        )

    @staticmethod
    def initial_for(patient: Patient) -> dict[str, Any]:
        return {
            "given_name": patient.given_name,
            "family_name": patient.family_name,
            "date_of_birth": patient.date_of_birth,
            "sex": patient.sex,
            "email": patient.email,
            "phone": patient.phone,
            "home_location": patient.home_location_id,
            "referring_physician": patient.referring_physician,
            "referring_physician_email": patient.referring_physician_email,
            "version": patient.version,
        }

    def clean_date_of_birth(self) -> Any:
        value = self.cleaned_data["date_of_birth"]
        if value > timezone.localdate():
            raise forms.ValidationError("Date of birth cannot be in the future.")
        if value.year < 1900:
            raise forms.ValidationError("Enter a date of birth after 1900.")
        return value


class PatientSearchForm(forms.Form):
    """The staff list's search box; the text is read by ``search.parse_patient_query``."""

    q = forms.CharField(
        label="Find a patient",
        max_length=100,
        required=False,
        help_text=(
            "Name, record number, email, phone (any format) or date of birth "
            f"({DATE_FORMATS_HINT}); type several to narrow."
        ),
    )

    def clean_q(self) -> str:
        text: str = self.cleaned_data["q"].strip()
        try:
            parse_patient_query(text)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
        return text
