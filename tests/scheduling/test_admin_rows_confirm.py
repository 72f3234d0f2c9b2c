"""Removing hours or an exception acts only from the confirm page (lib/confirm.py), whichever
row the post names: one the list does not show (an exception already over) is not removed on a
first post either."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse
from django.utils import timezone

from ketaclinic.audit.models import AuditEvent
from ketaclinic.scheduling.models import AvailabilityException
from tests.conftest import World


def test_an_exception_the_list_does_not_show_is_not_removed_without_confirmation(
    world: World, client_for: Any
) -> None:
    start = timezone.now() - dt.timedelta(days=7)
    past = AvailabilityException.objects.create(
        provider=world.physician,
        location=world.cleveland,
        kind="time_off",
        start=start,
        end=start + dt.timedelta(hours=4),
    )
    events = AuditEvent.objects.count()
    response = client_for("clinic_admin").post(
        reverse("scheduling:admin_exceptions"), {"remove": past.pk}
    )
    assert response.status_code == 404
    assert AvailabilityException.objects.filter(pk=past.pk).exists()
    assert AuditEvent.objects.count() == events
