"""One form per self-check step, built from screening/questions.py.

Every error message names its question, so a message read on its own (in the summary at the top
of the page, or by a screen reader) says which answer to fix. ``cleaned_data`` is exactly what
the session stores for the step: booleans for yes/no questions, lists of codes for the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms

from ketaclinic.screening import questions as q

YES, NO = "yes", "no"


def _to_bool(value: str) -> bool:
    return value == YES


class YesNoField(forms.TypedChoiceField):
    def __init__(
        self, *, name: str, label: str, no: str = "No", yes: str = "Yes", **kwargs: Any
    ) -> None:
        message = f"{name}: choose yes or no."
        super().__init__(
            label=label,
            choices=[(NO, no), (YES, yes)],
            coerce=_to_bool,
            widget=forms.RadioSelect,
            error_messages={"required": message, "invalid_choice": message},
            **kwargs,
        )
        self.short_name = name

    def prepare_value(self, value: Any) -> Any:
        # The session stores booleans; the radio buttons carry "yes" / "no".
        if value is True:
            return YES
        if value is False:
            return NO
        return value


class ChoicesField(forms.MultipleChoiceField):
    def __init__(
        self,
        *,
        name: str,
        label: str,
        options: Sequence[q.Option],
        required_message: str,
        exclusive: str | None = None,
    ) -> None:
        super().__init__(
            label=label,
            choices=[(option.value, option.label) for option in options],
            widget=forms.CheckboxSelectMultiple,
            error_messages={
                "required": f"{name}: {required_message}",
                "invalid_choice": f"{name}: %(value)s is not one of the choices.",
                "invalid_list": f"{name}: choose from the list.",
            },
        )
        self.short_name = name
        self.exclusive = exclusive
        labels = {option.value: option.label for option in options}
        self.exclusive_label = labels.get(exclusive, "") if exclusive else ""

    def validate(self, value: Any) -> None:
        super().validate(value)
        if self.exclusive and self.exclusive in value and len(value) > 1:
            raise forms.ValidationError(
                f"{self.short_name}: “{self.exclusive_label}” cannot be combined with other "
                "choices. Untick it, or untick the others."
            )


class StepForm(forms.Form):
    """A self-check step. ``sections`` groups the fields under optional headings."""

    section_stems: Sequence[tuple[str | None, Sequence[str]]] = ()

    def sections(self) -> list[tuple[str | None, list[forms.BoundField]]]:
        if not self.section_stems:
            return [(None, [self[name] for name in self.fields])]
        return [(stem, [self[name] for name in names]) for stem, names in self.section_stems]

    def short_name(self, field_name: str) -> str:
        field = self.fields[field_name]
        return str(getattr(field, "short_name", field.label or field_name))


def _symptom_form(questions: Sequence[q.SymptomQuestion]) -> type[StepForm]:
    fields: dict[str, Any] = {}
    stems: list[tuple[str | None, list[str]]] = []
    for question in questions:
        field = YesNoField(
            name=question.name, label=question.wording, no=question.no_label, yes=question.yes_label
        )
        field.asked_by = tuple(q.SHORT_NAMES[c] for c in question.asked_by)  # type: ignore[attr-defined]
        fields[question.concept] = field
        if stems and stems[-1][0] == question.stem:
            stems[-1][1].append(question.concept)
        else:
            stems.append((question.stem, [question.concept]))
    return type("SymptomForm", (StepForm,), {**fields, "section_stems": stems})


FeelForm = _symptom_form(q.FEEL_QUESTIONS)
SelfTestForm = _symptom_form(q.SELF_TEST_QUESTIONS)


class DurationForm(StepForm):
    duration = forms.ChoiceField(
        label="How long have you had this pain?",
        choices=[(d.value, d.label) for d in q.DURATIONS],
        widget=forms.RadioSelect,
        error_messages={
            "required": "Pain duration: choose how long you have had the pain.",
            "invalid_choice": "Pain duration: choose one of the listed lengths of time.",
        },
    )


class WhereForm(StepForm):
    regions = ChoicesField(
        name="Where it hurts",
        label="Where do you feel this pain? Tick every area that applies.",
        options=q.REGIONS,
        required_message="choose at least one area of the body.",
    )


class TriggersForm(StepForm):
    triggers = ChoicesField(
        name="What sets it off",
        label="Can any of these set off the pain or make it worse? Tick all that apply.",
        options=q.TRIGGERS,
        required_message="choose at least one, or “None of these”.",
        exclusive=q.NONE,
    )


class ConditionsForm(StepForm):
    conditions = ChoicesField(
        name="Known conditions",
        label="Has a doctor told you that you have any of these? Tick all that apply.",
        options=q.CONDITIONS,
        required_message="choose at least one, or “None that I know of, or I am not sure”.",
        exclusive=q.UNKNOWN,
    )


class TreatmentsForm(StepForm):
    treatments = ChoicesField(
        name="Treatments tried",
        label="Which of these have you tried for this pain? Tick all that apply.",
        options=q.TREATMENTS,
        required_message="choose at least one, or “None of these”.",
        exclusive=q.NONE,
    )


class WarningSignsForm(StepForm):
    pass


for _flag in q.RED_FLAGS:
    WarningSignsForm.base_fields[_flag.key] = YesNoField(name=_flag.name, label=_flag.question)


STEP_FORMS: dict[str, type[StepForm]] = {
    "feel": FeelForm,
    "duration": DurationForm,
    "where": WhereForm,
    "triggers": TriggersForm,
    "conditions": ConditionsForm,
    "treatments": TreatmentsForm,
    "self-tests": SelfTestForm,
    "warning-signs": WarningSignsForm,
}
assert tuple(STEP_FORMS) == q.STEP_SLUGS
