"""The booster offer email, sent after the physician's approval has committed."""

from __future__ import annotations

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from ketaclinic.clinics.api import clinic_brand
from ketaclinic.lib.email import clinic_email
from ketaclinic.outcomes.models import BoosterSuggestion


def _offer_url(suggestion: BoosterSuggestion) -> str:
    path = reverse("outcomes:my_booster", args=[suggestion.public_id])
    return f"{settings.SITE_URL}{path}"


def send_booster_offer(suggestion_id: int) -> None:
    """Tell the patient a booster is offered, linking to its free times. A patient without an
    email address gets no email; the offer shows in their portal either way."""
    suggestion = BoosterSuggestion.objects.select_related("patient").get(pk=suggestion_id)
    patient = suggestion.patient
    if not patient.email:
        return
    body = render_to_string(
        "outcomes/email/booster_offer.txt", {"patient": patient, "url": _offer_url(suggestion)}
    )
    brand = clinic_brand(patient.clinic_id)
    clinic_email(
        sender=brand,
        subject="Your physician offers a booster appointment",
        body=body,
        to=[patient.email],
    ).send()
