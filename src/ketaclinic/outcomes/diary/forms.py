"""Diary forms. The questions, their wording and their allowed answers come from the instrument
registry (``clinical.instruments.REGISTRY``), so the form asks exactly what the scorer scores.

Answers are parsed as whole numbers here and judged by ``clinical.instruments.score`` in the
service: an out-of-range answer comes back as that item's field error, so the range is written
in one place only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from ketaclinic.clinical.instruments import get_instrument
from ketaclinic.lib.forms import hidden_number_field
from ketaclinic.outcomes.models import ReminderSchedule
from ketaclinic.scheduling.models import Weekday

# Short names of the items, for error messages ("Pain: must be at least 0 ...").
SHORT_LABELS = {
    "pain": "Pain",
    "enjoyment": "Enjoyment of life",
    "general_activity": "General activity",
    "change": "Overall change",
}


class ItemField(forms.IntegerField):
    """One question of an instrument, answered with one of its allowed whole numbers: bounded by
    the lowest and highest of them, with the service's own wording for a number outside."""

    def __init__(self, *args: Any, short_label: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.short_label = short_label

    def validate(self, value: Any) -> None:
        super().validate(value)
        low, high = self.min_value, self.max_value
        if value is None or low is None or high is None or low <= value <= high:
            return
        # A number too long to read back (400 digits) is not echoed.
        shown = str(value) if abs(value) < 10**9 else "that number"
        raise forms.ValidationError(
            f"must be at least {low} and at most {high}, not {shown}", code="out_of_range"
        )


class DiaryEntryForm(forms.Form):
    entry_date = forms.DateField(
        label="Day", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    note = forms.CharField(
        label="Note (optional)",
        required=False,
        # The service enforces the limit with a message; the browser only helps.
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 500}),
        help_text="Anything that may explain the day: sleep, activity, a flare, a new medicine.",
    )
    version = hidden_number_field(required=False, initial=0)

    def __init__(self, *args: Any, instrument: str, with_date: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instrument = get_instrument(instrument)
        items: dict[str, forms.Field] = {}
        for item in self.instrument.items:
            values = [int(choice.value) for choice in item.choices]
            items[item.key] = ItemField(
                min_value=min(values),
                max_value=max(values),
                label=item.wording,
                short_label=SHORT_LABELS.get(item.key, item.key.replace("_", " ").capitalize()),
                widget=forms.RadioSelect(
                    choices=[(choice.value, choice.label) for choice in item.choices]
                ),
                error_messages={"required": "Choose one answer."},
            )
        # Questions first, then the day and the note.
        self.fields = {**items, **self.fields}
        if not with_date:
            del self.fields["entry_date"]

    @property
    def item_keys(self) -> tuple[str, ...]:
        return self.instrument.item_keys

    def answers(self) -> dict[str, object]:
        return {key: self.cleaned_data[key] for key in self.item_keys}


class ReminderScheduleForm(forms.Form):
    enabled = forms.BooleanField(label="Send me diary reminders by email", required=False)
    time_of_day = forms.TimeField(
        label="At (your local time)",
        initial=dt.time(19, 0),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    daily_nrs = forms.BooleanField(label="Every day: today's pain score", required=False)
    weekly_peg = forms.BooleanField(
        label="Once a week: pain, enjoyment of life and general activity (PEG)", required=False
    )
    peg_weekday = forms.TypedChoiceField(
        label="Weekly reminder on", choices=Weekday.choices, coerce=int, initial=6
    )
    version = hidden_number_field(required=False, initial=0)

    @classmethod
    def for_schedule(cls, schedule: ReminderSchedule | None) -> ReminderScheduleForm:
        if schedule is None:
            return cls(initial={"enabled": True, "daily_nrs": True, "weekly_peg": True})
        return cls(
            initial={
                "enabled": schedule.enabled,
                "time_of_day": schedule.time_of_day,
                "daily_nrs": schedule.daily_nrs,
                "weekly_peg": schedule.weekly_peg,
                "peg_weekday": schedule.peg_weekday,
                "version": schedule.version,
            }
        )


class PauseForm(forms.Form):
    paused_until = forms.DateField(
        label="Pause reminders until (and including)",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    version = hidden_number_field(required=False)
