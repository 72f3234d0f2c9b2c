"""Forms parse and present; the services validate ranges and codes (one message per field).

Every number field is bounded by the plausible ranges of ``clinical.ranges`` (issue 15 item 10),
so no number a person types reaches the record or a message unchecked."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from ketaclinic.assessments.models import (
    Consultation,
    DecisionOutcome,
    TherapyOutcome,
    range_problem,
)
from ketaclinic.assessments.selectors import HistoryOffer
from ketaclinic.assessments.services import ExamInput, GradeInput, HistoryInput
from ketaclinic.assessments.vocab import BODY_REGIONS, PAIN_DESCRIPTORS, SENSORY_SIGNS
from ketaclinic.clinical.codes import cause_codes
from ketaclinic.clinical.eligibility import CONDITIONS, THERAPIES
from ketaclinic.clinical.instruments import REGISTRY
from ketaclinic.clinical.ranges import RECORDED_RANGES
from ketaclinic.clinics.models import Location
from ketaclinic.lib.forms import hidden_number_field
from ketaclinic.lib.when import local_text
from ketaclinic.scheduling.models import Appointment

NEEDED = "Needed for the eligibility decision."
_DECIMAL = {"inputmode": "decimal"}
_NUMERIC = {"inputmode": "numeric"}
YES_NO = [("", "Not asked"), ("yes", "Yes"), ("no", "No")]
DURATION = "pain_duration_months"


class VersionedForm(forms.Form):
    # Optimistic locking: the version the page was drawn from goes back with the form.
    version = hidden_number_field()


class _RangedMixin:
    """A number field bounded by the plausible range of ``clinical.ranges`` (the table the
    model's constraints read): out of range, the form says so with the model's own message, so an
    impossible number (400 digits, a minus sign) never reaches the record."""

    range_name = ""

    def validate(self, value: Any) -> None:
        super().validate(value)  # type: ignore[misc]
        problem = range_problem(self.range_name, str(self.label), value)  # type: ignore[attr-defined]
        if problem:
            raise forms.ValidationError(problem, code="out_of_range")


class RangedFloatField(_RangedMixin, forms.FloatField):
    pass


class RangedIntegerField(_RangedMixin, forms.IntegerField):
    pass


def _decimal(name: str, label: str, help_text: str = "") -> forms.FloatField:
    low, high = RECORDED_RANGES[name]
    field = RangedFloatField(
        required=False,
        label=label,
        help_text=help_text,
        min_value=low,
        max_value=high,
        widget=forms.NumberInput(attrs={**_DECIMAL, "step": "any"}),
    )
    field.range_name = name
    return field


def _whole(name: str, label: str, help_text: str = "") -> forms.IntegerField:
    low, high = RECORDED_RANGES[name]
    field = RangedIntegerField(
        required=False,
        label=label,
        help_text=help_text,
        min_value=int(low),
        max_value=int(high),
        widget=forms.NumberInput(attrs=_NUMERIC),
    )
    field.range_name = name
    return field


def _checkboxes(choices: Any, label: str) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        choices=choices, required=False, label=label, widget=forms.CheckboxSelectMultiple
    )


class StartForm(forms.Form):
    exam_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    appointment = forms.ChoiceField(required=False, label="Appointment")

    def __init__(self, *args: Any, appointments: list[Appointment], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["appointment"]
        assert isinstance(field, forms.ChoiceField)
        # Each time in its location's zone, the zone named ("Wed 2 Dec 2026, 3:50 PM EST"):
        # the stored instant is UTC, and "20:50" read as the visit's time was wrong. The zones
        # come in one query, as the caller loads only the types.
        zones = dict(
            Location.objects.filter(pk__in={a.location_id for a in appointments}).values_list(
                "pk", "time_zone"
            )
        )
        # Coming up soonest first, then the past newest first (today's visit near the top).
        now = timezone.now()
        coming = sorted((a for a in appointments if a.start >= now), key=lambda a: a.start)
        past = sorted((a for a in appointments if a.start < now), key=lambda a: a.start)[::-1]
        field.choices = [("", "No appointment")] + [
            (str(a.public_id), f"{local_text(a.start, zones[a.location_id])} · {a.type}")
            for a in [*coming, *past]
        ]


class HistoryForm(VersionedForm):
    pain_duration_months = _decimal("pain_duration_months", "Pain duration (months)", NEEDED)
    pain_nrs = _whole("pain_nrs", "Pain now (0-10)")
    pain_regions = _checkboxes(list(BODY_REGIONS.items()), "Where is the pain?")
    pain_descriptors = _checkboxes(list(PAIN_DESCRIPTORS.items()), "How does it feel?")
    causes = forms.MultipleChoiceField(
        required=False,
        label="Causes and diagnoses (SNOMED CT, ICD-10-CM)",
        # Grouped by code system so a phone's picker shows "code · name" in two short lists.
        choices=[
            (name, [(c.key, f"{c.code} · {c.display}") for c in cause_codes() if c.system == key])
            for key, name in (("snomed", "SNOMED CT"), ("icd10cm", "ICD-10-CM"))
        ],
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    conditions = _checkboxes(
        [(code, c.label) for code, c in CONDITIONS.items()], "Conditions and contraindications"
    )
    history_notes = forms.CharField(
        required=False, label="Notes", widget=forms.Textarea(attrs={"rows": 4})
    )
    # The self-check the form offered (selectors.history_offer): saving confirms its values.
    selfcheck = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, offer: HistoryOffer | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One select per therapy: how it went, or not tried.
        for code, therapy in THERAPIES.items():
            self.fields[f"therapy_{code}"] = forms.ChoiceField(
                required=False,
                label=therapy.label,
                choices=[("", "Not tried"), *TherapyOutcome.choices],
            )
        self.offer = offer
        # Field name -> "From the self-check on <date>..." for each value the self-check offers.
        self.marks: dict[str, str] = {}
        if offer is not None:
            on = f"From the self-check on {offer.taken_on:%b} {offer.taken_on.day}, "
            on += f"{offer.taken_on.year}"
            for name in offer.offer.values:
                said = f": \u201c{offer.offer.duration_label}\u201d" if name == DURATION else ""
                self.marks[name] = f"{on}{said}. Saving confirms it."
            for code in offer.offer.treatments_tried:
                self.marks[f"therapy_{code}"] = f"{on}: tried. Choose how it went."
            for name, mark in self.marks.items():
                field = self.fields[name]
                field.help_text = f"{field.help_text} {mark}".strip()

    def _marked(self, names: list[str]) -> list[tuple[forms.BoundField, str]]:
        return [(self[name], self.marks.get(name, "")) for name in names]

    def pain_fields(self) -> list[tuple[forms.BoundField, str]]:
        return self._marked(
            ["pain_duration_months", "pain_nrs", "pain_regions", "pain_descriptors"]
        )

    def therapy_fields(self) -> list[tuple[forms.BoundField, str]]:
        return self._marked([f"therapy_{code}" for code in THERAPIES])

    @staticmethod
    def initial_for(
        consultation: Consultation,
        causes: list[str],
        treatments: dict[str, str],
        offer: HistoryOffer | None = None,
    ) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "version": consultation.version,
            "pain_duration_months": consultation.pain_duration_months,
            "pain_nrs": consultation.pain_nrs,
            "pain_regions": consultation.pain_regions,
            "pain_descriptors": consultation.pain_descriptors,
            "causes": causes,
            "conditions": consultation.conditions,
            "history_notes": consultation.history_notes,
        }
        for code, outcome in treatments.items():
            initial[f"therapy_{code}"] = outcome
        if offer is not None:
            # Only fields the record leaves empty are offered (selectors.history_offer).
            initial.update(offer.offer.values)
            initial["selfcheck"] = offer.selfcheck_id
        return initial

    def to_input(self) -> HistoryInput:
        data = self.cleaned_data
        return HistoryInput(
            pain_duration_months=data["pain_duration_months"],
            pain_nrs=data["pain_nrs"],
            pain_regions=data["pain_regions"],
            pain_descriptors=data["pain_descriptors"],
            causes=data["causes"],
            prior_treatments={
                code: data[f"therapy_{code}"] for code in THERAPIES if data[f"therapy_{code}"]
            },
            conditions=data["conditions"],
            history_notes=data["history_notes"],
            selfcheck_id=data["selfcheck"],
        )


DN4_ITEMS = REGISTRY["dn4"].items


class ExamForm(VersionedForm):
    systolic_bp = _whole("systolic_bp", "Systolic BP (mmHg)", NEEDED)
    diastolic_bp = _whole("diastolic_bp", "Diastolic BP (mmHg)", NEEDED)
    heart_rate = _whole("heart_rate", "Heart rate (/min)", NEEDED)
    spo2 = _whole("spo2", "SpO2 (%)", NEEDED)
    respiratory_rate = _whole("respiratory_rate", "Respiratory rate (/min)")
    temperature_c = _decimal("temperature_c", "Temperature (°C)")
    weight_kg = _decimal("weight_kg", "Weight (kg)", NEEDED)
    height_cm = _decimal("height_cm", "Height (cm)")
    sensory_signs = _checkboxes(list(SENSORY_SIGNS.items()), "Sensory signs")
    exam_notes = forms.CharField(
        required=False, label="Exam notes", widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for item in DN4_ITEMS:
            self.fields[f"dn4_{item.key}"] = forms.ChoiceField(
                required=False,
                label=item.wording,
                choices=YES_NO,
                widget=forms.RadioSelect,
            )

    def dn4_fields(self) -> list[tuple[str, list[forms.BoundField]]]:
        interview = set(REGISTRY["dn4-interview"].item_keys)
        return [
            (
                "Interview",
                [self[f"dn4_{i.key}"] for i in DN4_ITEMS if i.key in interview],
            ),
            (
                "Examination",
                [self[f"dn4_{i.key}"] for i in DN4_ITEMS if i.key not in interview],
            ),
        ]

    @staticmethod
    def initial_for(consultation: Consultation) -> dict[str, Any]:
        initial: dict[str, Any] = {
            name: getattr(consultation, name)
            for name in (
                "version",
                "systolic_bp",
                "diastolic_bp",
                "heart_rate",
                "spo2",
                "respiratory_rate",
                "temperature_c",
                "weight_kg",
                "height_cm",
                "sensory_signs",
                "exam_notes",
            )
        }
        for key, value in consultation.dn4_answers.items():
            initial[f"dn4_{key}"] = "yes" if value else "no"
        return initial

    def to_input(self) -> ExamInput:
        data = self.cleaned_data
        answered = {i.key: data[f"dn4_{i.key}"] for i in DN4_ITEMS if data[f"dn4_{i.key}"]}
        # Nothing answered means the DN4 was not done; a partial DN4 goes to the scorer, which
        # names every unanswered item.
        dn4 = {key: value == "yes" for key, value in answered.items()} if answered else None
        return ExamInput(
            systolic_bp=data["systolic_bp"],
            diastolic_bp=data["diastolic_bp"],
            heart_rate=data["heart_rate"],
            spo2=data["spo2"],
            respiratory_rate=data["respiratory_rate"],
            temperature_c=data["temperature_c"],
            weight_kg=data["weight_kg"],
            height_cm=data["height_cm"],
            sensory_signs=data["sensory_signs"],
            exam_notes=data["exam_notes"],
            dn4=dn4,
        )


class GradeForm(VersionedForm):
    history = forms.BooleanField(
        required=False,
        label="History suggests a relevant lesion or disease of the nervous system",
    )
    plausible_distribution = forms.BooleanField(
        required=False, label="Pain distribution is neuroanatomically plausible"
    )
    sensory_signs = forms.BooleanField(
        required=False,
        label="Sensory signs in the same distribution on examination",
    )
    confirmatory_test = forms.BooleanField(
        required=False,
        label="A diagnostic test confirms a lesion or disease of the somatosensory system",
    )
    confirmatory_test_note = forms.CharField(
        required=False, max_length=300, label="Which test (e.g. nerve conduction, skin biopsy)"
    )

    @staticmethod
    def initial_for(consultation: Consultation) -> dict[str, Any]:
        return {
            "version": consultation.version,
            "history": bool(consultation.grade_history),
            "plausible_distribution": bool(consultation.grade_plausible_distribution),
            "sensory_signs": bool(consultation.grade_sensory_signs),
            "confirmatory_test": bool(consultation.grade_confirmatory_test),
            "confirmatory_test_note": consultation.confirmatory_test_note,
        }

    def to_input(self) -> GradeInput:
        data = self.cleaned_data
        return GradeInput(
            history=data["history"],
            plausible_distribution=data["plausible_distribution"],
            sensory_signs=data["sensory_signs"],
            confirmatory_test=data["confirmatory_test"],
            confirmatory_test_note=data["confirmatory_test_note"],
        )


class SignForm(VersionedForm):
    ACTIONS = [("sign", "Sign"), ("override", "Override"), ("reevaluate", "Re-evaluate")]
    action = forms.ChoiceField(choices=ACTIONS, widget=forms.HiddenInput)
    outcome = forms.ChoiceField(
        required=False,
        label="Override to",
        choices=[("", "Choose an outcome"), *DecisionOutcome.choices],
    )
    reason = forms.CharField(
        required=False,
        label="Reason for the override",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class AddendumForm(forms.Form):
    text = forms.CharField(
        label="Addendum", widget=forms.Textarea(attrs={"rows": 4}), max_length=5000
    )
