"""Clinic admins change staff roles and locations, and deactivate or reactivate accounts (never
their own); each change is audited with the old and new values."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django.test import Client

from ketaclinic.accounts import services
from ketaclinic.accounts.models import Role, StaffInvitation, User
from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from tests import factories
from tests.conftest import World


def _events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type="user").order_by("id"))


def test_an_admin_changes_a_role_and_locations_and_both_are_audited(
    client_for: Any, world: World
) -> None:
    response = client_for("clinic_admin").post(
        f"/clinic/staff/{world.nurse.pk}/",
        {"role": "physician", "locations": [world.cleveland.pk, world.charlotte.pk]},
    )
    assert response.status_code == 302
    nurse = User.objects.get(pk=world.nurse.pk)
    assert nurse.role == "physician"
    assert set(nurse.locations.all()) == {world.cleveland, world.charlotte}
    (event,) = _events()
    assert event.actor == world.clinic_admin
    assert event.detail == {
        "email": "nurse@example.test",
        "changes": {
            "role": {"old": "nurse", "new": "physician"},
            "locations": {
                "old": [world.cleveland.pk],
                "new": sorted([world.cleveland.pk, world.charlotte.pk]),
            },
        },
    }


def test_the_edit_page_shows_the_current_role_and_locations(client_for: Any, world: World) -> None:
    page = client_for("clinic_admin").get(f"/clinic/staff/{world.nurse.pk}/").content.decode()
    assert '<option value="nurse" selected>Nurse</option>' in page
    assert re.search(rf'value="{world.cleveland.pk}" id="id_locations_\d" checked', page)
    assert not re.search(rf'value="{world.charlotte.pk}" id="id_locations_\d" checked', page)
    assert "Deactivate Nina Nurse" in page


def test_an_admin_cannot_change_their_own_role(client_for: Any, world: World) -> None:
    response = client_for("clinic_admin").post(
        f"/clinic/staff/{world.clinic_admin.pk}/", {"role": "nurse"}
    )
    assert response.status_code == 422
    assert "Role: You cannot change your own role." in response.content.decode()
    assert User.objects.get(pk=world.clinic_admin.pk).role == "clinic_admin"
    assert _events() == []


def test_a_role_outside_the_staff_roles_is_refused(world: World) -> None:
    with pytest.raises(ValidationError) as info:
        services.staff_member_update(
            actor=Actor(user=world.clinic_admin),
            user_id=world.nurse.pk,
            role=Role.PATIENT,
            location_ids=[],
        )
    assert list(info.value.message_dict) == ["role"]
    assert User.objects.get(pk=world.nurse.pk).role == "nurse"
    assert _events() == []


def test_deactivating_ends_the_session_and_reactivating_restores_it(
    client_for: Any, world: World
) -> None:
    nurse_client = client_for("nurse")
    assert nurse_client.get("/home/").status_code == 200
    admin = client_for("clinic_admin")
    response = admin.post(
        f"/clinic/staff/{world.nurse.pk}/active/", {"is_active": "0", "confirmed": "1"}
    )
    assert response.status_code == 302
    assert not User.objects.get(pk=world.nurse.pk).is_active
    assert nurse_client.get("/home/").status_code == 302
    assert "Deactivated" in admin.get("/clinic/staff/").content.decode()
    admin.post(f"/clinic/staff/{world.nurse.pk}/active/", {"is_active": "1"})
    assert User.objects.get(pk=world.nurse.pk).is_active
    assert [e.detail["changes"] for e in _events()] == [
        {"is_active": {"old": True, "new": False}},
        {"is_active": {"old": False, "new": True}},
    ]


def test_an_admin_cannot_deactivate_themselves(client_for: Any, world: World) -> None:
    response = client_for("clinic_admin").post(
        f"/clinic/staff/{world.clinic_admin.pk}/active/",
        {"is_active": "0", "confirmed": "1"},
        follow=True,
    )
    assert "You cannot deactivate your own account." in response.content.decode()
    assert User.objects.get(pk=world.clinic_admin.pk).is_active
    assert _events() == []


def test_patients_are_not_managed_on_the_staff_pages(client_for: Any, world: World) -> None:
    client = client_for("clinic_admin")
    assert client.get(f"/clinic/staff/{world.alice.pk}/").status_code == 404
    assert (
        client.post(f"/clinic/staff/{world.alice.pk}/active/", {"is_active": "0"}).status_code
        == 404
    )
    assert User.objects.get(pk=world.alice.pk).is_active


def test_another_clinics_staff_are_not_found(world: World) -> None:
    with pytest.raises(Http404):
        services.staff_member_set_active(
            actor=Actor(user=world.clinic_admin), user_id=world.other_physician.pk, is_active=False
        )
    other_admin = factories.make_user(world.other_clinic, Role.CLINIC_ADMIN)
    client = Client()
    client.force_login(other_admin)
    assert client.get(f"/clinic/staff/{world.nurse.pk}/").status_code == 404
    assert client.post(f"/clinic/staff/{world.nurse.pk}/", {"role": "physician"}).status_code == 404
    assert User.objects.get(pk=world.nurse.pk).role == "nurse"
    assert User.objects.get(pk=world.other_physician.pk).is_active


def test_the_staff_page_uses_the_same_queries_for_few_or_many_staff(
    client_for: Any, world: World, django_assert_num_queries: Any
) -> None:
    def invite(i: int) -> None:
        invitation = StaffInvitation.objects.create(
            clinic=world.clinic,
            email=f"invitee{i}@example.test",
            role=Role.FRONT_DESK,
            nonce=f"nonce-{i}",
            invited_by=world.clinic_admin,
            expires_at=world.clinic.created_at,
        )
        invitation.locations.add(world.charlotte)

    invite(0)
    client = client_for("clinic_admin")
    client.get("/clinic/staff/")
    # session, user, the user's clinic (role gate), the staff count, a page of staff, their
    # locations, open invitations with their inviter, their locations
    with django_assert_num_queries(8):
        assert client.get("/clinic/staff/").status_code == 200
    for i in range(1, 21):
        factories.make_user(
            world.clinic, Role.NURSE, name=f"Nurse {i:02d}", locations=(world.cleveland,)
        )
        invite(i)
    with django_assert_num_queries(8):
        page = client.get("/clinic/staff/").content.decode()
    assert "Nurse 19" in page
    assert "invitee20@example.test" in page
    assert "Expired" in page
