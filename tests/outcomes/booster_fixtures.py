"""Rows for the authorization matrix: a suggestion for Alice and a ready letter."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from ketaclinic.audit.services import Actor
from ketaclinic.outcomes.boosters import services as boosters
from ketaclinic.outcomes.models import BoosterSuggestion, Letter, LetterStatus
from tests import factories
from tests.conftest import World
from tests.outcomes.helpers import today


def suggestion_for(world: World, *, approved: bool) -> BoosterSuggestion:
    suggestion = BoosterSuggestion.objects.create(
        clinic=world.clinic,
        patient=world.alice_patient,
        series_end=today() - dt.timedelta(days=40),
        relapse_date=today() - dt.timedelta(days=5),
        baseline=8.0,
        window_means={},
        source="test",
    )
    if approved:
        # A booster is offered only under an eligibility decision in force (gate 1).
        factories.ensure_eligible(world.alice_patient, world.physician)
        suggestion = boosters.booster_suggestion_approve(
            actor=Actor(user=world.physician), suggestion=suggestion
        )
    return suggestion


def ready_letter(world: World) -> Letter:
    return Letter.objects.create(
        clinic=world.clinic,
        patient=world.alice_patient,
        requested_by=world.physician,
        status=LetterStatus.READY,
        pdf=b"%PDF-1.4 test",
        ready_at=timezone.now(),
    )
