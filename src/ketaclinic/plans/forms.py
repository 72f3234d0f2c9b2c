from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms

from ketaclinic.clinical import dosing, pk
from ketaclinic.clinical.ceilings import INFUSION_DURATION_MIN_RANGE, SETTINGS
from ketaclinic.clinical.medications import LINES, MEDICATIONS, NON_DRUG_COMPONENTS, Line
from ketaclinic.clinics.models import DosingBasis, ProtocolTemplate
from ketaclinic.lib.forms import hidden_number_field
from ketaclinic.plans.models import OTHER_MEDICATION, KetamineProtocol, Plan


def _details_field(label: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=2000,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class PlanForm(forms.Form):
    """Goals, review date and one details box per component (empty: not part of the plan)."""

    mark_optional = True  # the field template marks optional fields "(optional)"

    goals = forms.CharField(
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What the patient and you are aiming for, in words the patient would use.",
    )
    review_date = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="When to review the plan together; it must be in the future.",
    )
    version = hidden_number_field(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for item in MEDICATIONS.values():
            self.fields[f"c_{item.code}"] = _details_field(
                item.name, f"Guideline: {item.daily_dose}. {item.conditions}."
            )
        self.fields[f"c_{OTHER_MEDICATION}"] = _details_field(
            "Other medicines",
            # docs/clinical-sources.md §5.1
            "E.g. carbamazepine, first choice for trigeminal neuralgia (Behav Neurol 2019 review).",
        )
        for component in NON_DRUG_COMPONENTS.values():
            self.fields[f"c_{component.code}"] = _details_field(component.label)

    @staticmethod
    def initial_for(plan: Plan) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "goals": plan.goals,
            "review_date": plan.review_date,
            "version": plan.version,
        }
        for component in plan.components.all():
            initial[f"c_{component.code}"] = component.details
        return initial

    def components(self) -> dict[str, str]:
        return {
            name.removeprefix("c_"): value
            for name, value in self.cleaned_data.items()
            if name.startswith("c_")
        }

    def plan_values(self) -> dict[str, Any]:
        """What ``plan_create`` and ``plan_update`` take from the form (call after ``is_valid``)."""
        return {
            "goals": self.cleaned_data["goals"],
            "review_date": self.cleaned_data["review_date"],
            "components": self.components(),
        }

    # Grouping for the template: medicines by line with their guidance, then the rest.
    def medication_lines(self) -> Iterator[tuple[Line, list[tuple[forms.BoundField, Any]]]]:
        for line in LINES:
            yield (
                line,
                [(self[f"c_{m.code}"], m) for m in MEDICATIONS.values() if m.line == line.number],
            )

    def other_medication(self) -> forms.BoundField:
        return self[f"c_{OTHER_MEDICATION}"]

    def non_drug(self) -> list[tuple[forms.BoundField, Any]]:
        return [(self[f"c_{n.code}"], n) for n in NON_DRUG_COMPONENTS.values()]


class ProtocolForm(forms.Form):
    """One form: the template chosen and the values it fills in, saved only as they are shown.

    ``shown_template`` is the template whose values the fields were filled with (by the server,
    or by plans.js when the choice changes). When it differs from ``template`` the fields belong
    to another template than the one chosen: the view refills them and saves nothing, so a
    template is never saved with another template's dose. Weight and height are not fields:
    they are the exam's (shown read-only beside the form).
    """

    mark_optional = True  # the field template marks optional fields "(optional)"

    template = forms.TypedChoiceField(coerce=int, label="Protocol template")
    shown_template = hidden_number_field()
    dosing_basis = forms.ChoiceField(
        choices=DosingBasis.choices,
        label="Dosing weight",
        help_text="Ideal (Devine) and adjusted weights use height and sex.",
    )
    # Bounded by the product's ceilings (clinical.ceilings): no clinic's limit is above them, so
    # the service's messages about the clinic's own limits are untouched.
    dose_mg_per_kg = forms.FloatField(
        required=False,
        label="Dose (mg/kg per session)",
        min_value=0,
        max_value=SETTINGS["max_session_mg_per_kg"].ceiling,
        widget=forms.NumberInput({"step": "any"}),
    )
    fixed_dose_mg = forms.FloatField(
        required=False,
        label="Fixed dose (mg per session)",
        min_value=0,
        max_value=SETTINGS["max_session_mg"].ceiling,
        widget=forms.NumberInput({"step": "any"}),
    )
    duration_min = forms.IntegerField(
        label="Infusion duration (minutes)",
        min_value=INFUSION_DURATION_MIN_RANGE[0],
        max_value=INFUSION_DURATION_MIN_RANGE[1],
    )
    concentration_mg_per_ml = forms.TypedChoiceField(
        choices=[(c, f"{c:g} mg/mL") for c in dosing.CONCENTRATIONS_MG_PER_ML],
        coerce=float,
        label="Concentration on hand",
        help_text="Vial strength as ketamine base.",
    )
    pk_model = forms.ChoiceField(
        choices=[(name, m.label) for name, m in pk.MODELS.items()],
        label="Model for the predicted curve",
        initial=pk.DEFAULT_MODEL,
    )
    version = hidden_number_field()

    def __init__(
        self, *args: Any, templates: list[ProtocolTemplate], template: ProtocolTemplate, **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.chosen_template = template
        field = self.fields["template"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [(t.pk, t.name) for t in templates]
        # A template prescribes one dose form: only that one is required (and shown; plans.js
        # switches them when the choice changes).
        per_kg = template.fixed_dose_mg is None
        self.fields["dose_mg_per_kg"].required = per_kg
        self.fields["fixed_dose_mg"].required = not per_kg
        self.hidden_dose = "fixed_dose_mg" if per_kg else "dose_mg_per_kg"

    def shows_chosen_template(self) -> bool:
        """Whether the fields hold the chosen template's values (call after ``is_valid``)."""
        return self.cleaned_data.get("shown_template") == self.cleaned_data.get("template")

    def dose_fields(self) -> list[forms.BoundField]:
        return [self["dose_mg_per_kg"], self["fixed_dose_mg"]]

    def other_fields(self) -> list[forms.BoundField]:
        return [
            self[name]
            for name in ("duration_min", "dosing_basis", "concentration_mg_per_ml", "pk_model")
        ]

    @staticmethod
    def template_values(template: ProtocolTemplate) -> dict[str, Any]:
        """The values a template fills the fields with (also given to plans.js, per option)."""
        values: dict[str, Any] = {
            "dosing_basis": template.dosing_basis,
            "dose_mg_per_kg": template.dose_mg_per_kg,
            "fixed_dose_mg": template.fixed_dose_mg,
            "duration_min": template.duration_min,
        }
        if template.concentration_mg_per_ml in dosing.CONCENTRATIONS_MG_PER_ML:
            values["concentration_mg_per_ml"] = template.concentration_mg_per_ml
        return values

    @staticmethod
    def initial_for(
        *, template: ProtocolTemplate, protocol: KetamineProtocol | None, version: int
    ) -> dict[str, Any]:
        """The saved protocol's values if it used this template, else the template's."""
        initial: dict[str, Any] = {
            "template": template.pk,
            "shown_template": template.pk,
            "version": version,
        }
        if protocol is not None and protocol.template_id == template.pk:
            for name in (
                "dosing_basis",
                "dose_mg_per_kg",
                "fixed_dose_mg",
                "duration_min",
                "concentration_mg_per_ml",
                "pk_model",
            ):
                initial[name] = getattr(protocol, name)
            return initial
        initial.update(ProtocolForm.template_values(template), pk_model=pk.DEFAULT_MODEL)
        return initial


class VersionForm(forms.Form):
    """Sign and revise post only the version the page showed."""

    version = hidden_number_field()
