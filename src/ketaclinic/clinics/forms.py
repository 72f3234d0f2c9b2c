"""Forms for the clinic admin's settings pages. They parse; the services decide."""

from __future__ import annotations

import zoneinfo
from functools import cache
from typing import Any

from django import forms

from ketaclinic.accounts.models import STAFF_ROLES, Role
from ketaclinic.clinical import dosing
from ketaclinic.clinical.ceilings import INFUSION_DURATION_MIN_RANGE, SETTINGS
from ketaclinic.clinics.models import Clinic, ClinicPolicy, Location, ProtocolTemplate
from ketaclinic.clinics.policy_fields import POLICY_GROUPS, show
from ketaclinic.clinics.services import BRAND_FIELDS, LOCATION_FIELDS, TEMPLATE_FIELDS
from ketaclinic.clinics.services.brand import LOGO_MAX_BYTES, LOGO_MAX_SIDE
from ketaclinic.lib.forms import bounded, hidden_number_field

STAFF_ROLE_CHOICES = [(r.value, r.label) for r in Role if r in STAFF_ROLES]


@cache
def time_zone_names() -> list[str]:
    """Canonical Region/City names for the time-zone field's suggestions (the legacy aliases
    such as "US/Eastern" still validate, they are just not offered)."""
    return sorted(
        name
        for name in zoneinfo.available_timezones()
        if "/" in name and name.split("/")[0] not in {"Etc", "SystemV", "US", "posix", "right"}
    )


class LocationForm(forms.ModelForm[Location]):
    mark_optional = True  # the field template marks optional fields "(optional)"

    class Meta:
        model = Location
        fields = list(LOCATION_FIELDS)
        labels = {"region": "State"}
        help_texts = {
            "time_zone": "IANA name, e.g. America/New_York. Appointment times show in this zone.",
        }
        widgets = {
            "time_zone": forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off"}),
            "phone": forms.TextInput(attrs={"type": "tel"}),
        }


class ChairForm(forms.Form):
    name = forms.CharField(max_length=60, label="Chair name")


class ProtocolTemplateForm(forms.Form):
    """A plain form over the model's fields: the model's constraints are the service's to check,
    against the clinic's limits and with each message under its field."""

    mark_optional = True  # the field template marks optional fields "(optional)"

    version = hidden_number_field(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.update(
            forms.fields_for_model(
                ProtocolTemplate,
                fields=list(TEMPLATE_FIELDS),
                help_texts={
                    "dose_mg_per_kg": (
                        "Per kg of dosing weight. Fill in this or the fixed dose, not both."
                    ),
                    "fixed_dose_mg": (
                        "The same amount for every patient. Leave empty for a mg/kg dose."
                    ),
                    "rate_cap_mg_per_h": "Optional: the hourly rate never goes above this.",
                    "concentration_mg_per_ml": "Ketamine base on hand: 10, 50 or 100 mg/mL vials.",
                    "source": (
                        "Where the protocol comes from (study, guideline), shown to physicians."
                    ),
                },
                widgets={"source": forms.Textarea(attrs={"rows": 3})},
            )
        )
        # Explicit bounds, in the service's words: the product's ceilings (clinical.ceilings)
        # for the doses, the duration range, and the vials on hand; the clinic's own lower
        # limits stay the service's to check.
        low, high = INFUSION_DURATION_MIN_RANGE
        per_kg, per_session = (
            SETTINGS["max_session_mg_per_kg"].ceiling,
            SETTINGS["max_session_mg"].ceiling,
        )
        for name, top in (
            ("dose_mg_per_kg", per_kg),
            ("fixed_dose_mg", per_session),
            # An hourly cap above the most a session may hold given in the shortest infusion
            # could never act.
            ("rate_cap_mg_per_h", per_session * 60 / low),
            ("concentration_mg_per_ml", max(dosing.CONCENTRATIONS_MG_PER_ML)),
        ):
            # The service's wording: a dose, cap or strength is above 0 and at most the top.
            bounded(
                self.fields[name],
                0,
                top,
                below="Must be greater than 0.",
                above=f"Must be at most {show(top)}.",
            )
        bounded(
            self.fields["duration_min"], low, high, message=f"Between {low} and {high} minutes."
        )
        bounded(self.fields["sessions_count"], 1, 30, message="Between 1 and 30 sessions.")

    @staticmethod
    def initial_for(template: ProtocolTemplate) -> dict[str, Any]:
        initial = forms.model_to_dict(template, fields=list(TEMPLATE_FIELDS))
        initial["version"] = template.version
        return initial


class _LocationChoices(forms.ModelMultipleChoiceField[Location]):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


def _locations_field(clinic_id: int) -> forms.ModelMultipleChoiceField[Location]:
    return _LocationChoices(
        queryset=Location.objects.filter(clinic_id=clinic_id),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Where this person works. Clinic admins see every location.",
    )


class _StaffLocationsForm(forms.Form):
    """A staff form ending with the clinic's locations: the choices are made per form, since
    they are the admin's clinic's."""

    mark_optional = True  # the field template marks optional fields "(optional)"

    def __init__(self, *args: Any, clinic_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["locations"] = _locations_field(clinic_id)


class InvitationForm(_StaffLocationsForm):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=STAFF_ROLE_CHOICES)


class StaffMemberForm(_StaffLocationsForm):
    role = forms.ChoiceField(choices=STAFF_ROLE_CHOICES)


class JoinForm(forms.Form):
    mark_optional = True  # the field template marks optional fields "(optional)"

    full_name = forms.CharField(max_length=200, label="Your name")
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        label="Choose a password",
        strip=False,
    )
    password2 = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        label="The password again",
        strip=False,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("password2") != data["password"]:
            self.add_error("password2", "The two passwords differ.")
        return data


def _setting_bounded(field: forms.Field, spec: Any) -> forms.Field:
    """``field`` bounded by the setting's floor and ceiling, with the service's message."""
    bounded(field, spec.minimum, spec.maximum)

    def validate(value: Any, _validate: Any = field.validate) -> None:
        _validate(value)
        if value is None or spec.minimum <= value <= spec.maximum:
            return
        limit = "ketaclinic's ceiling" if value > spec.maximum else "ketaclinic's floor"
        shown = show(value) if abs(value) < 10**9 else "a number far outside that"
        raise forms.ValidationError(
            f"Must be between {show(spec.minimum)} and {show(spec.maximum)} {spec.unit} "
            f"({limit}); got {shown}.",
            code="out_of_range",
        )

    field.validate = validate  # type: ignore[method-assign]
    return field


class ClinicPolicyForm(forms.Form):
    """Every threshold, grouped as on the settings page, plus the note and the version it was
    based on (a form saved over a newer version is refused)."""

    mark_optional = True  # the field template marks optional fields "(optional)"

    based_on_version = hidden_number_field()
    note = forms.CharField(
        max_length=300,
        label="What changed and why",
        help_text="Kept with this version in the history, e.g. 'Medical director: lower max dose'.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, policy: ClinicPolicy, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "based_on_version": policy.version,
                **{name: getattr(policy, name) for name in ClinicPolicy.THRESHOLD_FIELDS},
            },
        )
        super().__init__(*args, **kwargs)
        for group in POLICY_GROUPS:
            for spec in group.fields:
                hint = " ".join(
                    part
                    for part in (
                        f"Default: {show(spec.default)} {spec.unit}.",
                        f"Allowed: {show(spec.minimum)} to {show(spec.maximum)}.",
                        spec.help,
                        spec.needs_approval,
                    )
                    if part
                )
                # The bounds go on the input as a hint only: the service checks them and says
                # which floor or ceiling a value passed (clinical.ceilings, gate 9).
                attrs = {"min": show(spec.minimum), "max": show(spec.maximum)}
                field: forms.Field
                if spec.integer:
                    field = forms.IntegerField(widget=forms.NumberInput(attrs=attrs))
                else:
                    field = forms.FloatField(
                        widget=forms.NumberInput(attrs={**attrs, "step": "any"})
                    )
                # The form refuses what passes ketaclinic's floor or ceiling, in the service's
                # words, so no number outside them reaches the service or the rules.
                field = _setting_bounded(field, spec)
                field.label = f"{spec.label} ({spec.unit})"
                field.help_text = hint
                self.fields[spec.name] = field

    def sections(self) -> list[tuple[str, str, list[forms.BoundField]]]:
        return [
            (group.title, group.intro, [self[spec.name] for spec in group.fields])
            for group in POLICY_GROUPS
        ]

    def values(self) -> dict[str, object]:
        return {name: self.cleaned_data[name] for name in ClinicPolicy.THRESHOLD_FIELDS}


class BrandForm(forms.Form):
    """The clinic's brand. The colour's contrast and the logo's contents are the service's to
    check (``services.brand``); the form parses and caps sizes."""

    mark_optional = True  # the field template marks optional fields "(optional)"

    based_on_version = hidden_number_field()
    name = forms.CharField(max_length=200, label="Clinic name")
    logo = forms.FileField(
        required=False,
        label="Logo",
        help_text=(
            f"PNG or JPEG, up to {LOGO_MAX_BYTES // 1024} KB and {LOGO_MAX_SIDE} pixels on a side. "
            "Shown beside the clinic's name in the page header."
        ),
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg"}),
    )
    remove_logo = forms.BooleanField(required=False, label="Remove the current logo")
    brand_colour = forms.CharField(
        max_length=7,
        label="Header colour",
        help_text=(
            "# and six hexadecimal digits, e.g. #1b2430. White text on it must reach a 4.5:1 "
            "contrast (WCAG AA)."
        ),
        widget=forms.TextInput(attrs={"placeholder": "#1b2430", "autocomplete": "off"}),
    )
    postal_address = forms.CharField(
        max_length=400,
        required=False,
        label="Postal address",
        help_text="One line per row; shown in the page footer and under every email.",
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off"}),
    )
    phone = forms.CharField(
        max_length=40,
        required=False,
        label="Phone",
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    public_email = forms.EmailField(
        required=False, label="Public email", help_text="Where patients may write to the clinic."
    )
    sender_email = forms.EmailField(
        required=False,
        label="Sender address for emails",
        help_text=(
            "Emails go out from this address with the clinic's name. Leave empty to use the "
            "server's address. Your mail provider must allow sending from it."
        ),
    )

    def __init__(self, *args: Any, clinic: Clinic, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "based_on_version": clinic.brand_version,
                **{name: getattr(clinic, name) for name in BRAND_FIELDS},
            },
        )
        super().__init__(*args, **kwargs)
        if not clinic.logo:
            del self.fields["remove_logo"]
