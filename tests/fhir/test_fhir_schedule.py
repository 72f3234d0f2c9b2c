"""Schedules and free slots through the FHIR API: one Schedule per provider and location, and
the free Slots exactly as the booking pages' own function (``scheduling.api.free_slots``)
gives them, for the types each reader is shown; refused without a schedule or a time range;
within the reader's clinic; at a cost flat in the number of schedules and of slots."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ketaclinic.accounts.models import Role, User
from ketaclinic.clinics.models import Location
from ketaclinic.fhir.resources.schedule import schedule_id
from ketaclinic.fhir.resources.slot import parse_slot_id
from ketaclinic.scheduling.api import free_slots
from ketaclinic.scheduling.models import (
    AppointmentKind,
    AppointmentType,
    AvailabilityException,
    ExceptionKind,
)
from ketaclinic.scheduling.slots import local_day_bounds
from tests.conftest import World
from tests.factories import make_user
from tests.factories.scheduling import (
    Sched,
    consultation_appointment,
    infusion_type,
    nurse_hours,
    setup_schedule,
    weekly_hours,
)
from tests.fhir.test_fhir_api import BASE, fhir, ids_of, refused, walk
from tests.fhir.test_smart_oauth import _backend, _client_credentials, _read

ClientFor = Callable[[str], Client]


@pytest.fixture
def frozen() -> Iterator[dt.datetime]:
    """The clock stopped (at a whole minute), so the API and the booking pages' function
    compute with the same now."""
    at = timezone.now().replace(second=0, microsecond=0)
    with time_machine.travel(at, tick=False):
        yield at


def _schedules(world: World) -> tuple[Sched, AppointmentType]:
    """The physician's hours at Cleveland (consultations online, and follow-ups the desk
    books), the nurse's at Charlotte (infusions: not booked one at a time), and the other
    clinic's physician's at its own site."""
    sched = setup_schedule(world)
    follow_up = AppointmentType.objects.create(
        clinic=world.clinic,
        kind=AppointmentKind.FOLLOW_UP,
        name="Follow-up visit",
        duration_min=20,
        buffer_min=0,
    )
    infusion_type(world.clinic)
    nurse_hours(world.nurse, world.charlotte)
    elsewhere = Location.objects.get(clinic=world.other_clinic)
    weekly_hours(world.other_physician, elsewhere, hours=(9, 12))
    return sched, follow_up


def _z(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _range(location: Location, first: dt.date, days: int) -> str:
    low = local_day_bounds(location, first)[0]
    high = local_day_bounds(location, first + dt.timedelta(days=days - 1))[1]
    return f"start=ge{_z(low)}&start=lt{_z(high)}"


def _days(offset: int = 1) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=offset)  # New York, as every site here


def _expected(
    location: Location, kinds: list[AppointmentType], provider: User, first: dt.date, days: int
) -> list[tuple[dt.datetime, dt.datetime, str]]:
    found = []
    for kind in kinds:
        for slot in free_slots(
            location=location,
            appointment_type=kind,
            day_from=first,
            day_to=first + dt.timedelta(days=days - 1),
        ):
            if slot.provider_id == provider.pk:
                found.append((slot.start, slot.end, kind.name))
    return sorted(found)


def _slots(client: Client, query: str) -> list[dict[str, Any]]:
    """Every slot of a search, following the next links."""
    found: list[dict[str, Any]] = []
    url: str | None = BASE + query
    while url is not None:
        bundle = fhir(client, url.split(BASE, 1)[1])
        found += [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
    return found


def _as_tuples(slots: list[dict[str, Any]]) -> list[tuple[dt.datetime, dt.datetime, str]]:
    return sorted(
        (
            dt.datetime.fromisoformat(s["start"]),
            dt.datetime.fromisoformat(s["end"]),
            s["serviceType"][0]["text"],
        )
        for s in slots
    )


def _expression(client: Client, path: str) -> list[str]:
    body = fhir(client, path, 400)
    assert body["resourceType"] == "OperationOutcome"
    expression: list[str] = body["issue"][0]["expression"]
    return expression


# --- Schedule ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_one_schedule_per_provider_and_site_within_the_clinic(
    world: World, client_for: ClientFor
) -> None:
    _schedules(world)
    ours = {
        str(schedule_id(world.physician, world.cleveland)),
        str(schedule_id(world.nurse, world.charlotte)),
    }
    elsewhere = Location.objects.get(clinic=world.other_clinic)
    theirs = str(schedule_id(world.other_physician, elsewhere))
    for persona in ("alice", "bob", "front_desk", "nurse", "physician", "clinic_admin"):
        client = client_for(persona)
        assert set(ids_of(fhir(client, "Schedule"))) == ours, persona
        for key in ours:
            assert fhir(client, f"Schedule/{key}")["id"] == key
        assert "No Schedule" in fhir(client, f"Schedule/{theirs}", 404)["issue"][0]["diagnostics"]
    other = client_for("other_physician")
    assert ids_of(fhir(other, "Schedule")) == [theirs]
    for key in ours:
        fhir(other, f"Schedule/{key}", 404)
    fhir(other, "Schedule/not-an-id", 404)
    assert Client().get(BASE + "Schedule").status_code == 401


@pytest.mark.django_db
def test_a_schedule_names_its_actors_types_and_horizon(
    world: World, client_for: ClientFor, frozen: dt.datetime
) -> None:
    sched, follow_up = _schedules(world)
    key = schedule_id(world.physician, world.cleveland)
    desk = fhir(client_for("front_desk"), f"Schedule/{key}")
    assert desk["active"] is True
    assert [a["reference"] for a in desk["actor"]] == [
        f"Practitioner/{world.physician.public_id}",
        f"Location/{world.cleveland.public_id}",
    ]
    # The desk books consultations and follow-ups with the physician one at a time.
    assert [t["text"] for t in desk["serviceType"]] == [sched.consultation.name, follow_up.name]
    assert desk["serviceType"][0]["coding"][0]["code"] == "consultation"
    assert desk["serviceType"][0]["coding"][1]["code"] == str(sched.consultation.public_id)
    # The patient is shown the online booking page's consultation only.
    alice = fhir(client_for("alice"), f"Schedule/{key}")
    assert [t["text"] for t in alice["serviceType"]] == [sched.consultation.name]
    # The booking window: the default policy's lead time (2 hours) to its horizon (60 days).
    horizon = desk["planningHorizon"]
    assert dt.datetime.fromisoformat(horizon["start"]) == frozen + dt.timedelta(hours=2)
    assert dt.datetime.fromisoformat(horizon["end"]) == frozen + dt.timedelta(days=60)
    assert "Monday 09:00-17:00" in desk["comment"]
    # Infusions are booked as series, never one at a time: the nurse's schedule offers none.
    nurse = fhir(client_for("front_desk"), f"Schedule/{schedule_id(world.nurse, world.charlotte)}")
    assert "serviceType" not in nurse


@pytest.mark.django_db
def test_schedules_are_searched_by_actor_active_and_id(world: World, client_for: ClientFor) -> None:
    _schedules(world)
    physician = str(schedule_id(world.physician, world.cleveland))
    nurse = str(schedule_id(world.nurse, world.charlotte))
    client = client_for("physician")

    def found(query: str) -> set[str]:
        return set(ids_of(fhir(client, f"Schedule?{query}")))

    assert found(f"actor=Practitioner/{world.physician.public_id}") == {physician}
    assert found(f"actor=Location/{world.charlotte.public_id}") == {nurse}
    assert found(f"actor={world.charlotte.public_id}") == {nurse}
    assert found(f"actor=Location/{world.physician.public_id}") == set()
    assert found(f"actor:Location={world.charlotte.public_id}") == {nurse}
    assert found(f"actor:Location={world.physician.public_id}") == set()
    assert "actor" in refused(client, f"Schedule?actor:Patient={world.physician.public_id}", 400)
    assert "_cursor" in refused(client, "Schedule?_cursor=garbage", 400)  # no schedule's id
    assert found(f"_id={nurse}") == {nurse}
    assert found("active=true") == {physician, nurse}
    User.objects.filter(pk=world.nurse.pk).update(is_active=False)
    assert found("active=false") == {nurse}
    assert found("active=|false") == {nurse}  # "no system", as a boolean has none
    assert found("active=http://example.org/yes-no|false") == set()
    assert fhir(client, f"Schedule/{nurse}")["active"] is False


@pytest.mark.django_db
def test_extra_hours_alone_make_a_schedule(world: World, client_for: ClientFor) -> None:
    sched, _ = _schedules(world)
    start = local_day_bounds(world.charlotte, _days(2))[0] + dt.timedelta(hours=10)
    AvailabilityException.objects.create(
        provider=world.physician,
        location=world.charlotte,
        kind=ExceptionKind.EXTRA_HOURS,
        start=start,
        end=start + dt.timedelta(hours=2),
    )
    key = schedule_id(world.physician, world.charlotte)
    client = client_for("front_desk")
    assert "extra hours only" in fhir(client, f"Schedule/{key}")["comment"]
    slots = _slots(client, f"Slot?schedule={key}&{_range(world.charlotte, _days(2), 1)}")
    expected = _expected(world.charlotte, [sched.consultation], world.physician, _days(2), 1)
    assert expected
    assert [x for x in _as_tuples(slots) if x[2] == sched.consultation.name] == expected


@pytest.mark.django_db
def test_a_schedule_search_costs_the_same_however_many_schedules(
    world: World, client_for: ClientFor
) -> None:
    _schedules(world)
    client = client_for("front_desk")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            fhir(client, "Schedule?_count=100")
        return len(captured)

    few = queries()
    for n in range(6):
        doctor = make_user(
            world.clinic, Role.PHYSICIAN, email=f"doc{n}@clinic.test", locations=(world.cleveland,)
        )
        weekly_hours(doctor, world.cleveland if n % 2 else world.charlotte, hours=(8, 12))
    assert len(ids_of(fhir(client, "Schedule?_count=100"))) == 8
    assert queries() == few


# --- Slot -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_free_slots_are_the_booking_pages_own(
    world: World, client_for: ClientFor, frozen: dt.datetime
) -> None:
    sched, follow_up = _schedules(world)
    key = schedule_id(world.physician, world.cleveland)
    query = f"Slot?schedule=Schedule/{key}&{_range(world.cleveland, _days(1), 3)}&_count=100"
    desk = _slots(client_for("front_desk"), query)
    expected = _expected(
        world.cleveland, [sched.consultation, follow_up], world.physician, _days(1), 3
    )
    assert len(expected) > 40
    assert _as_tuples(desk) == expected
    assert {s["status"] for s in desk} == {"free"}
    assert {s["schedule"]["reference"] for s in desk} == {f"Schedule/{key}"}
    assert [s["start"] for s in desk] == sorted(s["start"] for s in desk)  # ids sort by start
    # The patient sees the online booking page's consultations only, the same ones.
    alice = _slots(client_for("alice"), query)
    assert _as_tuples(alice) == [x for x in expected if x[2] == sched.consultation.name]
    for resource in desk[:3]:
        assert len(resource["id"]) <= 64
        assert parse_slot_id(resource["id"]) is not None


@pytest.mark.django_db
def test_a_slot_is_read_while_free_and_gone_once_booked(
    world: World, client_for: ClientFor, frozen: dt.datetime
) -> None:
    sched, follow_up = _schedules(world)
    key = schedule_id(world.physician, world.cleveland)
    client = client_for("front_desk")
    slots = _slots(client, f"Slot?schedule={key}&{_range(world.cleveland, _days(1), 1)}")
    consultation = next(s for s in slots if s["serviceType"][0]["text"] == sched.consultation.name)
    follow = next(s for s in slots if s["serviceType"][0]["text"] == follow_up.name)
    assert fhir(client, f"Slot/{consultation['id']}") == consultation
    assert fhir(client_for("alice"), f"Slot/{consultation['id']}") == consultation
    # A follow-up is not the patient's to book online; nor is another clinic's reader's.
    fhir(client_for("alice"), f"Slot/{follow['id']}", 404)
    fhir(client_for("other_physician"), f"Slot/{consultation['id']}", 404)
    assert (
        ids_of(
            fhir(
                client_for("other_physician"),
                f"Slot?schedule={key}&{_range(world.cleveland, _days(1), 1)}",
            )
        )
        == []
    )
    consultation_appointment(
        sched, world.bob_patient, dt.datetime.fromisoformat(consultation["start"])
    )
    fhir(client, f"Slot/{consultation['id']}", 404)
    after = _slots(client, f"Slot?schedule={key}&{_range(world.cleveland, _days(1), 1)}")
    assert consultation["id"] not in {s["id"] for s in after}
    assert _as_tuples(after) == _expected(
        world.cleveland, [sched.consultation, follow_up], world.physician, _days(1), 1
    )
    for bad in ("x", "20990101T000000Z-0-0", "-" * 64, "a" * 65):
        assert fhir(client, f"Slot/{bad}", 404)["resourceType"] == "OperationOutcome"


@pytest.mark.django_db
def test_slot_searches_by_range_type_status_and_pages(
    world: World, client_for: ClientFor, frozen: dt.datetime
) -> None:
    sched, follow_up = _schedules(world)
    key = schedule_id(world.physician, world.cleveland)
    client = client_for("nurse")
    day = _days(2)
    everything = _slots(client, f"Slot?schedule={key}&{_range(world.cleveland, day, 1)}")
    # Paged: the same slots, in the same (start) order, five at a time.
    base = f"Slot?schedule={key}&{_range(world.cleveland, day, 1)}"
    paged, pages = walk(client, f"{base}&_count=5")
    assert paged == [s["id"] for s in everything]
    assert pages > 3
    consultations = _slots(client, f"{base}&service-type=consultation")
    assert {s["serviceType"][0]["text"] for s in consultations} == {sched.consultation.name}
    by_type = _slots(client, f"{base}&service-type={follow_up.public_id}")
    assert {s["serviceType"][0]["text"] for s in by_type} == {follow_up.name}
    assert len(consultations) + len(by_type) == len(everything)
    assert len(_slots(client, f"{base}&status=free")) == len(everything)
    assert _slots(client, f"{base}&status=busy") == []
    assert len(_slots(client, f"{base}&status=http://hl7.org/fhir/slotstatus|free")) == len(
        everything
    )
    assert _slots(client, f"{base}&status=http://example.org/states|free") == []
    # One day by eq; a day's morning by gt and le.
    assert _slots(client, f"Slot?schedule={key}&start={day.isoformat()}") == everything
    noon = local_day_bounds(world.cleveland, day)[0] + dt.timedelta(hours=12)
    morning = _slots(client, f"Slot?schedule={key}&start=ge{day.isoformat()}&start=lt{_z(noon)}")
    assert morning == [s for s in everything if dt.datetime.fromisoformat(s["start"]) < noon]
    # Beyond the booking horizon (60 days), nothing is free; a wide range is cut to it.
    far = _days(90)
    assert _slots(client, f"Slot?schedule={key}&{_range(world.cleveland, far, 3)}") == []
    wide = fhir(client, f"Slot?schedule={key}&start=ge2000-01-01&start=lt9999-01-01&_count=100")
    assert len(ids_of(wide)) == 100


@pytest.mark.django_db
def test_a_slot_search_without_a_schedule_or_a_range_is_refused_naming_it(
    world: World, client_for: ClientFor
) -> None:
    _schedules(world)
    key = schedule_id(world.physician, world.cleveland)
    client = client_for("front_desk")
    day = _days(1).isoformat()
    assert _expression(client, f"Slot?start=ge{day}&start=lt{day}") == ["schedule"]
    assert _expression(client, "Slot") == ["schedule"]
    assert _expression(client, f"Slot?schedule={key}") == ["start"]
    assert _expression(client, f"Slot?schedule={key}&start=ge{day}") == ["start"]
    assert _expression(client, f"Slot?schedule={key}&start=lt{day}") == ["start"]
    assert _expression(client, f"Slot?schedule={key}&start=ne{day}") == ["start"]
    assert _expression(client, f"Slot?schedule={key}&start=ge{day},{day}") == ["start"]
    assert _expression(client, f"Slot?schedule={key}&start=soon") == ["start"]
    assert _expression(client, f"Slot?schedule={key}&start={day}&_cursor=%20") == ["_cursor"]
    for garbled in ("garbage", "zzzz", "20990101T000000Z-x"):  # ids no slot has: not a page
        assert _expression(client, f"Slot?schedule={key}&start={day}&_cursor={garbled}") == [
            "_cursor"
        ]
    assert _expression(client, f"Slot?schedule:Location={key}&start={day}") == ["schedule:Location"]
    # An unknown schedule is no refusal: it has no free slots.
    assert ids_of(fhir(client, f"Slot?schedule=Schedule/nope&start={day}")) == []


@pytest.mark.django_db
def test_a_slot_search_costs_the_same_however_many_schedules_days_and_slots(
    world: World, client_for: ClientFor, frozen: dt.datetime
) -> None:
    _schedules(world)
    second = make_user(
        world.clinic, Role.PHYSICIAN, email="second@clinic.test", locations=(world.cleveland,)
    )
    weekly_hours(second, world.cleveland, hours=(8, 18))
    one = schedule_id(world.physician, world.cleveland)
    two = schedule_id(second, world.cleveland)
    client = client_for("front_desk")

    def queries(schedules: str, days: int, count: int) -> int:
        query = f"Slot?schedule={schedules}&{_range(world.cleveland, _days(1), days)}"
        with CaptureQueriesContext(connection) as captured:
            bundle = fhir(client, f"{query}&_count={count}")
        assert len(ids_of(bundle)) == count
        return len(captured)

    assert queries(f"{one}", 2, 10) == queries(f"{one},{two}", 10, 100) == queries(f"{two}", 5, 10)


@pytest.mark.django_db
def test_tokens_read_schedules_and_slots_only_when_their_scopes_name_them(
    world: World, frozen: dt.datetime
) -> None:
    _schedules(world)
    key = schedule_id(world.physician, world.cleveland)
    backend, secret = _backend(world)
    both = _client_credentials(backend, secret, "system/Schedule.read system/Slot.read").json()
    assert ids_of(_read(f"Schedule?_id={key}", both["access_token"])) == [str(key)]
    slots = _read(f"Slot?schedule={key}&start={_days(1).isoformat()}", both["access_token"])
    assert ids_of(slots)
    schedules_only = _client_credentials(backend, secret, "system/Schedule.read").json()
    _read(f"Slot?schedule={key}&start={_days(1).isoformat()}", schedules_only["access_token"], 403)


@pytest.mark.django_db
def test_metadata_lists_what_schedule_and_slot_serve(client: Client) -> None:
    statement = fhir(client, "metadata")
    served = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert {i["code"] for i in served["Slot"]["interaction"]} == {"read", "search-type"}
    assert {p["name"] for p in served["Slot"]["searchParam"]} == {
        "_id",
        "schedule",
        "start",
        "service-type",
        "status",
    }
    assert {p["name"] for p in served["Schedule"]["searchParam"]} == {"_id", "actor", "active"}
