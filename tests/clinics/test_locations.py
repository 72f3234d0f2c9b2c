"""Locations and infusion chairs: add, edit, rename, deactivate and reactivate, all audited."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404

from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.clinics import services
from ketaclinic.clinics.models import Chair, Location
from tests import factories
from tests.conftest import World

NEW_LOCATION = {
    "name": "Akron East",
    "address": "12 Main St",
    "city": "Akron",
    "region": "OH",
    "time_zone": "America/New_York",
    "phone": "+1 330 555 0100",
    "email": "Akron@Example.test",
}


def _events(object_type: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type=object_type).order_by("id"))


def _admin(world: World) -> Actor:
    return Actor(user=world.clinic_admin)


def test_an_admin_adds_a_location_and_the_event_holds_its_values(
    client_for: Any, world: World
) -> None:
    response = client_for("clinic_admin").post("/clinic/locations/new/", NEW_LOCATION)
    location = Location.objects.get(clinic=world.clinic, name="Akron East")
    assert response.status_code == 302
    assert response["Location"] == f"/clinic/locations/{location.pk}/"
    assert location.email == "akron@example.test"
    (event,) = _events("location")
    assert event.action == "create"
    assert event.actor == world.clinic_admin
    assert event.detail["new"]["time_zone"] == "America/New_York"
    assert event.detail["new"]["name"] == "Akron East"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"time_zone": "Mars/Olympus"}, "Time zone: &#x27;Mars/Olympus&#x27; is not a known IANA"),
        ({"name": "Cleveland"}, "Name: This clinic already has a location with this name."),
        ({"name": ""}, "Name: This field is required."),
        ({"email": "not-an-email"}, "Email: Enter a valid email address."),
    ],
)
def test_bad_location_input_names_the_field_and_adds_nothing(
    client_for: Any, world: World, changes: dict[str, str], message: str
) -> None:
    response = client_for("clinic_admin").post("/clinic/locations/new/", NEW_LOCATION | changes)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert Location.objects.filter(clinic=world.clinic).count() == 2
    assert _events("location") == []


def test_editing_a_location_audits_old_and_new_values(client_for: Any, world: World) -> None:
    data = {
        "name": "Cleveland Clinic Campus",
        "address": "",
        "city": "Cleveland",
        "region": "OH",
        "time_zone": "America/Chicago",
        "phone": "",
        "email": "",
    }
    response = client_for("clinic_admin").post(f"/clinic/locations/{world.cleveland.pk}/", data)
    assert response.status_code == 302
    world.cleveland.refresh_from_db()
    assert world.cleveland.time_zone == "America/Chicago"
    (event,) = _events("location")
    assert event.action == "update"
    assert event.detail == {
        "changes": {
            "name": {"old": "Cleveland", "new": "Cleveland Clinic Campus"},
            "time_zone": {"old": "America/New_York", "new": "America/Chicago"},
        }
    }


def test_a_bad_time_zone_on_edit_changes_nothing(client_for: Any, world: World) -> None:
    data = NEW_LOCATION | {"name": "Cleveland", "time_zone": "Eastern"}
    response = client_for("clinic_admin").post(f"/clinic/locations/{world.cleveland.pk}/", data)
    assert response.status_code == 422
    assert "Time zone:" in response.content.decode()
    world.cleveland.refresh_from_db()
    assert (world.cleveland.time_zone, world.cleveland.city) == ("America/New_York", "Cleveland")
    assert _events("location") == []


def test_the_service_refuses_a_bad_time_zone_too(world: World) -> None:
    with pytest.raises(ValidationError) as info:
        services.location_update(
            actor=_admin(world), location_id=world.cleveland.pk, values={"time_zone": "UTC+5"}
        )
    assert list(info.value.message_dict) == ["time_zone"]
    world.cleveland.refresh_from_db()
    assert world.cleveland.time_zone == "America/New_York"


def test_another_clinics_admin_gets_404_for_our_location_and_chairs(world: World) -> None:
    other_admin = Actor(user=factories.make_user(world.other_clinic, "clinic_admin"))
    chair = world.cleveland.chairs.first()
    assert chair is not None
    with pytest.raises(Http404):
        services.location_update(
            actor=other_admin, location_id=world.cleveland.pk, values={"city": "X"}
        )
    with pytest.raises(Http404):
        services.chair_create(actor=other_admin, location_id=world.cleveland.pk, name="Chair 9")
    with pytest.raises(Http404):
        services.chair_set_active(actor=other_admin, chair_id=chair.pk, is_active=False)
    assert world.cleveland.chairs.count() == 2
    assert Chair.objects.get(pk=chair.pk).is_active


def test_pages_for_another_clinics_location_are_not_found(world: World) -> None:
    from django.test import Client

    other_admin = factories.make_user(world.other_clinic, "clinic_admin")
    client = Client()
    client.force_login(other_admin)
    chair = world.cleveland.chairs.first()
    assert chair is not None
    assert client.get(f"/clinic/locations/{world.cleveland.pk}/").status_code == 404
    assert client.post(f"/clinic/locations/chairs/{chair.pk}/active/").status_code == 404
    assert (
        client.post(f"/clinic/locations/chairs/{chair.pk}/rename/", {"name": "Mine"}).status_code
        == 404
    )
    assert Chair.objects.get(pk=chair.pk).name == chair.name


def test_chairs_are_added_renamed_deactivated_and_reactivated_with_audit(
    client_for: Any, world: World
) -> None:
    client = client_for("clinic_admin")
    base = f"/clinic/locations/{world.charlotte.pk}/"
    assert client.post(f"{base}chairs/", {"name": "Chair 2"}).status_code == 302
    chair = Chair.objects.get(location=world.charlotte, name="Chair 2")
    client.post(f"/clinic/locations/chairs/{chair.pk}/rename/", {"name": "Window chair"})
    client.post(
        f"/clinic/locations/chairs/{chair.pk}/active/", {"is_active": "0", "confirmed": "1"}
    )
    chair.refresh_from_db()
    assert (chair.name, chair.is_active) == ("Window chair", False)
    page = client.get(base).content.decode()
    assert "Window chair" in page
    assert "Reactivate" in page
    client.post(f"/clinic/locations/chairs/{chair.pk}/active/", {"is_active": "1"})
    chair.refresh_from_db()
    assert chair.is_active
    assert [(e.action, e.detail) for e in _events("chair")] == [
        (
            "create",
            {"location": world.charlotte.pk, "new": {"name": "Chair 2", "is_active": True}},
        ),
        (
            "update",
            {
                "location": world.charlotte.pk,
                "changes": {"name": {"old": "Chair 2", "new": "Window chair"}},
            },
        ),
        (
            "update",
            {"location": world.charlotte.pk, "changes": {"is_active": {"old": True, "new": False}}},
        ),
        (
            "update",
            {"location": world.charlotte.pk, "changes": {"is_active": {"old": False, "new": True}}},
        ),
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("chair 1", "Chair name: This location already has a chair with this name."),
        ("   ", "Chair name: Give the chair a name, e.g. Chair 3."),
    ],
)
def test_a_bad_chair_name_is_refused_by_name_and_nothing_changes(
    client_for: Any, world: World, name: str, message: str
) -> None:
    client = client_for("clinic_admin")
    chair = Chair.objects.get(location=world.cleveland, name="Chair 2")
    add = client.post(
        f"/clinic/locations/{world.cleveland.pk}/chairs/", {"name": name}, follow=True
    )
    assert message in add.content.decode()
    rename = client.post(
        f"/clinic/locations/chairs/{chair.pk}/rename/", {"name": name}, follow=True
    )
    assert message in rename.content.decode()
    assert sorted(world.cleveland.chairs.values_list("name", flat=True)) == ["Chair 1", "Chair 2"]
    assert _events("chair") == []


def test_deactivating_twice_writes_one_event(world: World) -> None:
    chair = Chair.objects.get(location=world.cleveland, name="Chair 1")
    services.chair_set_active(actor=_admin(world), chair_id=chair.pk, is_active=False)
    services.chair_set_active(actor=_admin(world), chair_id=chair.pk, is_active=False)
    assert len(_events("chair")) == 1


def test_the_locations_page_uses_the_same_queries_for_one_or_twenty_locations(
    client_for: Any, world: World, django_assert_num_queries: Any
) -> None:
    client = client_for("clinic_admin")
    client.get("/clinic/locations/")
    # session, user, the user's clinic (role gate), locations, their chairs
    with django_assert_num_queries(5):
        assert client.get("/clinic/locations/").status_code == 200
    for i in range(20):
        factories.make_location(world.clinic, f"Site {i:02d}", chairs=3)
    with django_assert_num_queries(5):
        page = client.get("/clinic/locations/").content.decode()
    assert "Site 19" in page


def test_the_location_page_uses_the_same_queries_for_two_or_twenty_chairs(
    client_for: Any, world: World, django_assert_num_queries: Any
) -> None:
    client = client_for("clinic_admin")
    url = f"/clinic/locations/{world.cleveland.pk}/"
    client.get(url)
    # session, user, the location, its chairs
    with django_assert_num_queries(4):
        assert client.get(url).status_code == 200
    for i in range(18):
        Chair.objects.create(location=world.cleveland, name=f"Extra {i}", is_active=i % 2 == 0)
    with django_assert_num_queries(4):
        page = client.get(url).content.decode()
    assert "Extra 17" in page
