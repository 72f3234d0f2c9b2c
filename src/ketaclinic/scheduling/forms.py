from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from ketaclinic.accounts.models import STAFF_ROLES, User
from ketaclinic.clinics.models import Location
from ketaclinic.lib.forms import bounded
from ketaclinic.patients.models import Sex
from ketaclinic.scheduling.models import (
    AppointmentType,
    AvailabilityException,
    BookingPolicy,
    WeeklyAvailability,
)


class PatientDetailsForm(forms.Form):
    """What the clinic needs to register a new patient from the booking flow."""

    given_name = forms.CharField(max_length=100)
    family_name = forms.CharField(max_length=100)
    date_of_birth = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    sex = forms.ChoiceField(choices=Sex.choices, label="Sex assigned at birth")
    phone = forms.CharField(max_length=40)

    def clean_date_of_birth(self) -> Any:
        value = self.cleaned_data["date_of_birth"]
        if value > timezone.localdate() or value.year < 1900:
            raise forms.ValidationError("Enter your real date of birth.")
        return value


class _ClinicScoped:
    def scope(self, form: forms.ModelForm[Any], clinic_id: int | None) -> None:
        if "provider" in form.fields:
            field = form.fields["provider"]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = User.objects.filter(
                clinic_id=clinic_id or 0, role__in=STAFF_ROLES, is_active=True
            )
        if "location" in form.fields:
            field = form.fields["location"]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = Location.objects.filter(clinic_id=clinic_id or 0)


# How far ahead anyone may book (booking_policy_horizon_range): no notice, cut-off or hold is
# longer than that.
HORIZON_DAYS_MAX = 366
_HOURS, _MINUTES = HORIZON_DAYS_MAX * 24, HORIZON_DAYS_MAX * 24 * 60

# Explicit bounds of the set-up forms' numbers: the models' check constraints
# (appointment_type_duration_range, _buffer_range, booking_policy_horizon_range, _hold_minimum).
NUMBER_BOUNDS: dict[str, tuple[int, int, str]] = {
    "duration_min": (5, 600, "minutes"),
    "buffer_min": (0, 240, "minutes"),
    "lead_time_hours": (0, _HOURS, "hours"),
    "horizon_days": (1, HORIZON_DAYS_MAX, "days"),
    "cancel_cutoff_hours": (0, _HOURS, "hours"),
    "waitlist_hold_minutes": (5, _MINUTES, "minutes"),
}


def _bounded_formfield(model_field: Any, **kwargs: Any) -> forms.Field | None:
    """The model field's form field, with its bounds when it is one of ``NUMBER_BOUNDS``."""
    field: forms.Field | None = model_field.formfield(**kwargs)
    if field is not None and model_field.name in NUMBER_BOUNDS:
        low, high, unit = NUMBER_BOUNDS[model_field.name]
        bounded(field, low, high, message=f"Between {low} and {high} {unit}.")
    return field


class AppointmentTypeForm(forms.ModelForm[AppointmentType]):
    class Meta:
        model = AppointmentType
        formfield_callback = _bounded_formfield
        fields = [
            "kind",
            "name",
            "duration_min",
            "buffer_min",
            "provider_role",
            "needs_chair",
            "bookable_online",
            "is_active",
        ]


class WeeklyAvailabilityForm(forms.ModelForm[WeeklyAvailability], _ClinicScoped):
    class Meta:
        model = WeeklyAvailability
        fields = ["provider", "location", "weekday", "start_time", "end_time"]
        widgets = {
            "start_time": forms.TimeInput(attrs={"type": "time"}),
            "end_time": forms.TimeInput(attrs={"type": "time"}),
        }

    def __init__(self, *args: Any, clinic_id: int | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scope(self, clinic_id)


class AvailabilityExceptionForm(forms.ModelForm[AvailabilityException], _ClinicScoped):
    class Meta:
        model = AvailabilityException
        fields = ["provider", "location", "kind", "start", "end", "note"]
        widgets = {
            "start": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "end": forms.DateTimeInput(attrs={"type": "datetime-local"}),
        }

    def __init__(self, *args: Any, clinic_id: int | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scope(self, clinic_id)


class BookingPolicyForm(forms.ModelForm[BookingPolicy]):
    class Meta:
        model = BookingPolicy
        formfield_callback = _bounded_formfield
        fields = ["lead_time_hours", "horizon_days", "cancel_cutoff_hours", "waitlist_hold_minutes"]


class DeskBookForm(forms.Form):
    """The front desk's choice of where and what to book, read from the query string (ids of the
    clinic's locations and appointment types: no patient data); the slot is posted separately.
    Choices come from lists the view already read, so the form runs no query of its own."""

    location = forms.TypedChoiceField(coerce=int)
    type = forms.TypedChoiceField(coerce=int, label="Appointment type")

    def __init__(
        self,
        data: Any,
        *,
        locations: list[Location],
        types: list[AppointmentType],
        home: Location | None,
    ) -> None:
        super().__init__(data)
        self.locations = {loc.pk: loc for loc in locations}
        self.types = {kind.pk: kind for kind in types}
        location = self.fields["location"]
        kind = self.fields["type"]
        assert isinstance(location, forms.TypedChoiceField)
        assert isinstance(kind, forms.TypedChoiceField)
        # The home location is named in the list, so a desk booking elsewhere sees it.
        location.choices = [
            (loc.pk, f"{loc.name} (home)" if home is not None and loc.pk == home.pk else loc.name)
            for loc in locations
        ]
        kind.choices = [(t.pk, t.name) for t in types]

    def chosen(self) -> tuple[Location, AppointmentType]:
        """The location and type chosen (call after ``is_valid``)."""
        return (
            self.locations[self.cleaned_data["location"]],
            self.types[self.cleaned_data["type"]],
        )
