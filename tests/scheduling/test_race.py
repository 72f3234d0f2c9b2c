"""Two patients confirm the same slot at the same instant: exactly one appointment exists.

Real threads, each with its own database connection, released together by a barrier. On
PostgreSQL the exclusion constraint decides; on SQLite the IMMEDIATE transaction serializes the
two and the loser's re-check (and the trigger behind it) refuses.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from ketaclinic.audit.services import Actor
from ketaclinic.patients.models import Patient
from ketaclinic.scheduling import services
from ketaclinic.scheduling.models import Appointment
from tests.conftest import World
from tests.factories.scheduling import setup_schedule
from tests.scheduling.helpers import some_slots


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_two_patients_racing_for_one_slot_get_exactly_one_appointment(
    world: World, round_: int
) -> None:
    sched = setup_schedule(world)
    slot = some_slots(sched)[round_]
    barrier = threading.Barrier(2)
    outcomes: dict[str, Any] = {}

    def confirm(name: str, patient_pk: int, user: Any) -> None:
        try:
            patient = Patient.objects.get(pk=patient_pk)
            barrier.wait(timeout=10)
            services.appointment_book(
                actor=Actor(user=user),
                patient=patient,
                location=world.cleveland,
                appointment_type=sched.consultation,
                provider_id=slot.provider_id,
                start=slot.start,
                online=True,
            )
            outcomes[name] = "booked"
        except services.SlotUnavailableError as exc:
            outcomes[name] = exc
        except Exception as exc:
            outcomes[name] = repr(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=confirm, args=("alice", world.alice_patient.pk, world.alice)),
        threading.Thread(target=confirm, args=("bob", world.bob_patient.pk, world.bob)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["alice", "bob"]
    results = list(outcomes.values())
    assert results.count("booked") == 1, outcomes
    (loser,) = [r for r in results if r != "booked"]
    assert isinstance(loser, services.SlotUnavailableError), loser
    assert "no longer available" in str(loser) or "a moment ago" in str(loser)
    assert loser.alternatives
    assert Appointment.objects.filter(start=slot.start).count() == 1


@pytest.mark.django_db
def test_the_database_itself_refuses_an_overlapping_appointment(world: World) -> None:
    sched = setup_schedule(world)
    start = some_slots(sched)[0].start
    fields = {
        "clinic": world.clinic,
        "location": world.cleveland,
        "provider": world.physician,
        "type": sched.consultation,
    }
    Appointment.objects.create(
        patient=world.alice_patient,
        start=start,
        end=start + dt.timedelta(minutes=30),
        block_end=start + dt.timedelta(minutes=45),
        **fields,
    )
    with pytest.raises(IntegrityError, match="appointment_no_overlap"), transaction.atomic():
        # Starts inside the first one's buffer, at the other site: still the same provider.
        Appointment.objects.create(
            patient=world.bob_patient,
            start=start + dt.timedelta(minutes=40),
            end=start + dt.timedelta(minutes=70),
            block_end=start + dt.timedelta(minutes=85),
            **{**fields, "location": world.charlotte},
        )
    # A cancelled appointment frees its time.
    Appointment.objects.update(status="cancelled")
    Appointment.objects.create(
        patient=world.bob_patient,
        start=start,
        end=start + dt.timedelta(minutes=30),
        block_end=start + dt.timedelta(minutes=45),
        **fields,
    )
