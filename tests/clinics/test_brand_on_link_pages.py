"""A page opened from an emailed link wears the brand of the patient's clinic, not the site's:
on a server of several clinics the visitor is not signed in, and the site's clinic is another."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ketaclinic.outcomes.diary.links import diary_link_issue
from ketaclinic.scheduling.links import link_issue
from ketaclinic.scheduling.models import LinkAction
from tests.conftest import World
from tests.factories.scheduling import consultation_appointment, setup_schedule


def _wears_ours(world: World, url: str) -> None:
    page = Client().get(url).content.decode()
    assert f'<span class="brand-name">{world.clinic.name}</span>' in page
    assert world.other_clinic.name not in page


def test_the_cancel_link_page_wears_the_patients_clinic(world: World, settings: Any) -> None:
    settings.SITE_CLINIC = world.other_clinic.slug
    sched = setup_schedule(world)
    start = timezone.now() + dt.timedelta(days=3)
    appointment = consultation_appointment(sched, world.alice_patient, start)
    with transaction.atomic():
        token = link_issue(
            action=LinkAction.CANCEL,
            expires_at=timezone.now() + dt.timedelta(days=2),
            appointment=appointment,
        )
    _wears_ours(world, reverse("scheduling:link_cancel", args=[token]))


def test_the_diary_link_page_wears_the_patients_clinic(world: World, settings: Any) -> None:
    settings.SITE_CLINIC = world.other_clinic.slug
    with transaction.atomic():
        token = diary_link_issue(
            patient=world.alice_patient, instrument="nrs", entry_date=timezone.localdate()
        )
    _wears_ours(world, reverse("outcomes:diary_link", args=[token]))


def test_a_spent_or_forged_link_wears_the_sites_brand(world: World, settings: Any) -> None:
    settings.SITE_CLINIC = world.other_clinic.slug
    page = Client().get(reverse("scheduling:link_cancel", args=["forged"])).content.decode()
    assert f'<span class="brand-name">{world.other_clinic.name}</span>' in page
