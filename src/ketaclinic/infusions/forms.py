"""Forms of the chair board and the chart. They parse and bound the input; the services decide.

Every form posts the session's ``version`` (optimistic locking). Times are
``<input type="datetime-local">`` in the location's time zone, blank meaning now; numbers use
``inputmode="numeric"`` so a tablet shows the number pad, and the vitals row is laid out for
the keyboard (tab through, Enter saves).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django import forms
from django.http import HttpRequest

from ketaclinic.accounts.api import IdentityNotConfirmedError, confirm_identity
from ketaclinic.accounts.models import User
from ketaclinic.clinical.gates import BACKDATE_REASON_AFTER_MIN
from ketaclinic.clinical.instruments import get_instrument
from ketaclinic.clinical.monitoring import VITAL_LIMITS
from ketaclinic.infusions.models import (
    AdverseEventKind,
    AlertAction,
    Intervention,
    Outcome,
    Severity,
)
from ketaclinic.lib.forms import hidden_number_field

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


class LocalDateTimeField(forms.DateTimeField):
    """A wall-clock time at the location, made aware in the location's zone (not the server's).

    Left blank it means the server's time of saving (gate 7): the chart never pre-fills it with
    the time the page was drawn, which would date an entry made minutes later to the earlier
    minute."""

    widget = forms.DateTimeInput(
        attrs={"type": "datetime-local", "class": "when"}, format=LOCAL_FORMAT
    )

    def __init__(self, *, time_zone: str = "UTC", **kwargs: Any) -> None:
        kwargs.setdefault("input_formats", [LOCAL_FORMAT, "%Y-%m-%d %H:%M"])
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "blank = now")
        super().__init__(**kwargs)
        self.time_zone = time_zone

    def to_python(self, value: Any) -> dt.datetime | None:
        result: dt.datetime | None = super().to_python(value)
        if result is None:
            return None
        zone = zoneinfo.ZoneInfo(self.time_zone)
        return result.replace(tzinfo=None).replace(tzinfo=zone)


def _time_reason() -> forms.CharField:
    return forms.CharField(
        label="Why charted late",
        required=False,
        max_length=300,
        help_text=f"needed when the time is more than {BACKDATE_REASON_AFTER_MIN} min back",
    )


def _number(label: str, lowest: int, highest: int, *, required: bool = False) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=required,
        min_value=lowest,
        max_value=highest,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "class": "num"}),
    )


def _vital(name: str, label: str, *, required: bool = False) -> forms.IntegerField:
    lowest, highest = VITAL_LIMITS[name]
    return _number(label, lowest, highest, required=required)


class SessionForm(forms.Form):
    """Base: the version posted back, and a location time zone for the time fields."""

    version = hidden_number_field(min_value=1)

    def __init__(self, *args: Any, time_zone: str = "UTC", **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        for form_field in self.fields.values():
            if isinstance(form_field, LocalDateTimeField):
                form_field.time_zone = time_zone


class ArriveForm(forms.Form):
    chair = forms.TypedChoiceField(label="Chair", coerce=int, required=False, empty_value=None)
    arrived_at = LocalDateTimeField(label="Arrived at")
    time_reason = _time_reason()

    def __init__(
        self, *args: Any, chairs: list[tuple[int, str]], time_zone: str = "UTC", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["chair"].choices = [("", "Choose later"), *chairs]  # type: ignore[attr-defined]
        self.fields["arrived_at"].time_zone = time_zone  # type: ignore[attr-defined]


class ChairForm(SessionForm):
    chair = forms.TypedChoiceField(label="Chair", coerce=int)

    def __init__(self, *args: Any, chairs: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["chair"].choices = chairs  # type: ignore[attr-defined]


class VitalsFields(forms.Form):
    systolic_bp = _vital("systolic_bp", "Systolic BP (mmHg)")
    diastolic_bp = _vital("diastolic_bp", "Diastolic BP (mmHg)")
    heart_rate = _vital("heart_rate", "Heart rate (/min)")
    spo2 = _vital("spo2", "SpO2 (%)")
    respiratory_rate = _vital("respiratory_rate", "Resp. rate (/min)")

    VITAL_NAMES = ("systolic_bp", "diastolic_bp", "heart_rate", "spo2", "respiratory_rate")

    def vitals(self) -> dict[str, Any]:
        values = {name: self.cleaned_data.get(name) for name in self.VITAL_NAMES}
        values["new_arrhythmia"] = bool(self.cleaned_data.get("new_arrhythmia", False))
        return values


class PrecheckForm(SessionForm, VitalsFields):
    taken_at = LocalDateTimeField(label="Time")
    time_reason = _time_reason()
    weight_kg = forms.DecimalField(
        label="Weight today (kg)",
        max_digits=5,
        decimal_places=1,
        min_value=0,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.1", "class": "num"}),
    )
    pain_nrs = _number("Pain now (0-10)", 0, 10, required=True)
    fasting = forms.BooleanField(label="Fasted as instructed", required=False)
    escort_arranged = forms.BooleanField(
        label="Escort arranged for the journey home", required=False
    )
    consent_confirmed = forms.BooleanField(label="Consent confirmed", required=False)

    field_order = [
        "taken_at",
        "time_reason",
        "systolic_bp",
        "diastolic_bp",
        "heart_rate",
        "spo2",
        "respiratory_rate",
        "weight_kg",
        "pain_nrs",
        "fasting",
        "escort_arranged",
        "consent_confirmed",
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("systolic_bp", "diastolic_bp", "heart_rate", "spo2"):
            self.fields[name].required = True


class VitalsForm(SessionForm, VitalsFields):
    taken_at = LocalDateTimeField(label="Time")
    rass = forms.TypedChoiceField(
        label="RASS",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "-"), *[(v, f"{v:+d}") for v in range(4, -6, -1)]],
    )
    moaas = forms.TypedChoiceField(
        label="MOAA/S",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "-"), *[(v, str(v)) for v in range(5, -1, -1)]],
    )
    pain_nrs = _number("Pain (0-10)", 0, 10)
    new_arrhythmia = forms.BooleanField(label="New arrhythmia", required=False)
    note = forms.CharField(label="Note", required=False, max_length=500)
    time_reason = _time_reason()

    field_order = [
        "systolic_bp",
        "diastolic_bp",
        "heart_rate",
        "spo2",
        "respiratory_rate",
        "rass",
        "moaas",
        "pain_nrs",
        "new_arrhythmia",
        "taken_at",
        "time_reason",
        "note",
    ]


class ReasonForm(SessionForm):
    reason = forms.CharField(label="Reason", widget=forms.Textarea(attrs={"rows": 2}))


def _mg_field(label: str) -> forms.DecimalField:
    """An amount of ketamine in mg, to the hundredth (the Schedule III record's precision)."""
    return forms.DecimalField(
        label=label,
        max_digits=7,
        decimal_places=2,
        min_value=0,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01", "class": "num"}),
    )


class DrawForm(SessionForm):
    lot = forms.CharField(label="Lot", max_length=40)
    expiry = forms.DateField(label="Expiry", widget=forms.DateInput(attrs={"type": "date"}))
    drawn_mg = _mg_field("Drawn (mg)")
    drawn_at = LocalDateTimeField(label="Drawn at")
    time_reason = _time_reason()


def _rate_field(label: str = "Rate (mL/h)") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        max_digits=7,
        decimal_places=2,
        min_value=0,
        error_messages={
            "max_digits": "Enter a rate of at most 99999.99 mL/h.",
            "min_value": "The rate cannot be negative.",
        },
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01", "class": "num"}),
    )


class StartForm(SessionForm):
    rate_ml_per_h = _rate_field()
    at = LocalDateTimeField(label="Started at")
    time_reason = _time_reason()


class RateForm(SessionForm):
    rate_ml_per_h = _rate_field("New rate (mL/h)")
    at = LocalDateTimeField(label="At")
    reason = forms.CharField(label="Reason", required=False, max_length=300)
    time_reason = _time_reason()


class StopForm(SessionForm):
    at = LocalDateTimeField(label="Stopped at")
    reason = forms.CharField(label="Reason", required=False, max_length=300)
    time_reason = _time_reason()


def _scale_choices(code: str, key: str) -> list[tuple[int, str]]:
    instrument = get_instrument(code)
    item = next(i for i in instrument.items if i.key == key)
    return [(int(choice.value), choice.label) for choice in item.choices]


class CadssForm(SessionForm):
    taken_at = LocalDateTimeField(label="Time")
    time_reason = _time_reason()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for item in get_instrument("cadss6").items:
            self.fields[item.key] = forms.TypedChoiceField(
                label=item.wording,
                coerce=int,
                choices=_scale_choices("cadss6", item.key),
                widget=forms.RadioSelect,
            )

    def answers(self) -> dict[str, object]:
        return {item.key: self.cleaned_data[item.key] for item in get_instrument("cadss6").items}


class RecoveryForm(SessionForm):
    taken_at = LocalDateTimeField(label="Time")
    time_reason = _time_reason()
    pain_nrs = _number("Pain now (0-10)", 0, 10)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for item in get_instrument("aldrete").items:
            self.fields[item.key] = forms.TypedChoiceField(
                label=item.wording,
                coerce=int,
                choices=[("", "Choose"), *_scale_choices("aldrete", item.key)],
            )
        self.order_fields(
            ["taken_at", "time_reason", *[i.key for i in get_instrument("aldrete").items]]
        )

    def answers(self) -> dict[str, object]:
        return {item.key: self.cleaned_data[item.key] for item in get_instrument("aldrete").items}


class AcknowledgeForm(SessionForm):
    alert = forms.UUIDField(widget=forms.HiddenInput)
    action = forms.ChoiceField(label="Action taken", choices=[("", "Choose"), *AlertAction.choices])
    note = forms.CharField(label="Note", required=False, max_length=500)


class AdverseEventForm(SessionForm):
    kind = forms.ChoiceField(label="Event", choices=AdverseEventKind.choices)
    severity = forms.ChoiceField(label="Severity", choices=Severity.choices)
    onset_at = LocalDateTimeField(label="Onset")
    time_reason = _time_reason()
    interventions = forms.MultipleChoiceField(
        label="What was done",
        choices=Intervention.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    outcome = forms.ChoiceField(label="Outcome", choices=Outcome.choices)
    note = forms.CharField(
        label="Note", required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )


class ReconcileForm(SessionForm):
    given_mg = _mg_field("Given (mg)")
    wasted_mg = _mg_field("Wasted (mg)")
    witness = forms.TypedChoiceField(
        label="Witness of the waste", coerce=int, required=False, empty_value=None
    )
    witness_password = forms.CharField(
        label="Witness's password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )
    witness_code = forms.CharField(
        label="Witness's authenticator code",
        required=False,
        max_length=64,
        help_text="the 6-digit code their app shows now, or one of their recovery codes",
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )
    given_reason = forms.CharField(
        label="Why given differs from the charted rates",
        required=False,
        max_length=1000,
        help_text="needed only when it differs; a physician then reviews it",
    )

    def __init__(
        self,
        *args: Any,
        witnesses: list[tuple[int, str]],
        request: HttpRequest | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["witness"].choices = [("", "No waste"), *witnesses]  # type: ignore[attr-defined]
        self.request = request

    def clean(self) -> dict[str, Any] | None:
        """The witness proves who they are here, where the request is (the sign-in limit counts
        by address): the service takes the proof, never the password or a flag."""
        data = super().clean() or {}
        data["witness_proof"] = None
        witness_id = data.get("witness")
        if self.errors or witness_id is None or not data.get("wasted_mg"):
            # Checked only once the rest is valid: the password is not shown again, and an
            # attempt spent on a form refused for another field would count towards the lock.
            return data
        request = self.request
        if request is None or request.user.pk == witness_id:
            self.add_error("witness", "The witness must be a second person, not the one recording.")
            return data
        password = data.get("witness_password") or ""
        if not password:
            self.add_error("witness_password", "The witness types their own password here.")
            return data
        witness = User.objects.filter(pk=witness_id).first()
        if witness is None:  # the choices hold only this clinic's nurses and physicians
            self.add_error("witness", "Choose a nurse or physician of this clinic.")
            return data
        try:
            data["witness_proof"] = confirm_identity(
                request,
                user=witness,
                password=password,
                code=data.get("witness_code") or "",
                purpose="waste witness",
            )
        except IdentityNotConfirmedError as exc:
            if exc.factor == "code":
                self.add_error("witness_code", str(exc.message))
            elif exc.locked:
                self.add_error(
                    "witness",
                    "Too many wrong passwords for this witness: their password cannot be "
                    "checked from this computer for a few minutes. Wait, or choose another "
                    "witness.",
                )
            else:
                self.add_error("witness_password", "The witness's password is not correct.")
        return data


class DischargeForm(SessionForm):
    escort_name = forms.CharField(label="Escort's name", required=False, max_length=200)
    escort_confirmed = forms.BooleanField(
        label="A responsible adult is here to take the patient home (no driving until tomorrow)",
        required=False,
    )


class SignForm(SessionForm):
    gap_reason = forms.CharField(
        label="Why vitals had a long gap",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="needed when vitals were not charted for more than twice the interval",
    )


class DeviationReviewForm(SessionForm):
    deviation = forms.UUIDField(widget=forms.HiddenInput)
    note = forms.CharField(
        label="Physician's review", max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class AddendumForm(SessionForm):
    text = forms.CharField(
        label="Addendum", max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )
