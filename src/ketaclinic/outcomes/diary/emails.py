"""Diary reminder emails. Sent after the claim that makes them at-most-once has committed."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from ketaclinic.clinics.api import clinic_brand
from ketaclinic.lib.email import clinic_email
from ketaclinic.outcomes.diary.links import LIFETIME
from ketaclinic.outcomes.models import Instrument
from ketaclinic.patients.models import Patient

# What each link asks, in the email's words.
PROMPTS = {
    Instrument.NRS: "How is your pain today (0-10)?",
    Instrument.PEG: "Your weekly check-in: pain, enjoyment of life and general activity",
    Instrument.PGIC: "How has your overall condition changed since treatment began?",
}


def _url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def send_diary_reminder(patient: Patient, *, day: dt.date, tokens: list[tuple[str, str]]) -> None:
    """One email per patient and day, with one single-use link per instrument due that day.

    The email names no score and no diagnosis: only the day, the questions and the links.
    """
    if not patient.email or not tokens:
        return
    links = [
        {"prompt": PROMPTS[Instrument(kind)], "url": _url(reverse("outcomes:diary_link", args=[t]))}
        for kind, t in tokens
    ]
    body = render_to_string(
        "outcomes/email/reminder.txt",
        {
            "patient": patient,
            "day": day,
            "links": links,
            "hours": int(LIFETIME.total_seconds() // 3600),
            "diary_url": _url(reverse("outcomes:my_diary")),
            "reminders_url": _url(reverse("outcomes:my_diary_reminders")),
        },
    )
    brand = clinic_brand(patient.clinic_id)
    clinic_email(
        sender=brand,
        subject="Your pain diary for today",
        body=body,
        to=[patient.email],
    ).send()
