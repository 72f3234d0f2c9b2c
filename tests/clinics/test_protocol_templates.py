"""Protocol templates: the shipped three with sources; add, edit (versioned, optimistic locking),
deactivate; a dose past the clinic's limits for a 70 kg adult is refused with the limit named."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404

from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.clinics import services
from ketaclinic.clinics.models import ProtocolTemplate
from ketaclinic.clinics.selectors import protocol_templates_active
from ketaclinic.lib.forms import StaleObjectError
from tests import factories
from tests.conftest import World

FIVE_DAY = "0.5 mg/kg over 40 min, 5 consecutive days"
SCHWARTZMAN = "0.35 mg/kg/h for 4 h, capped at 25 mg/h, 10 days"

NEW_TEMPLATE = {
    "name": "0.3 mg/kg over 60 min, 6 sessions",
    "dose_mg_per_kg": "0.3",
    "fixed_dose_mg": "",
    "duration_min": "60",
    "rate_cap_mg_per_h": "",
    "dosing_basis": "ideal",
    "concentration_mg_per_ml": "10",
    "sessions_count": "6",
    "pattern": "three_per_week",
    "source": "Local protocol, medical director 2026.",
}


def _events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type="protocol_template").order_by("id"))


def _template(world: World, name: str = FIVE_DAY) -> ProtocolTemplate:
    return ProtocolTemplate.objects.get(clinic=world.clinic, name=name)


def _edit_data(template: ProtocolTemplate, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": template.name,
        "dose_mg_per_kg": template.dose_mg_per_kg if template.dose_mg_per_kg is not None else "",
        "fixed_dose_mg": template.fixed_dose_mg if template.fixed_dose_mg is not None else "",
        "duration_min": template.duration_min,
        "rate_cap_mg_per_h": template.rate_cap_mg_per_h or "",
        "dosing_basis": template.dosing_basis,
        "concentration_mg_per_ml": template.concentration_mg_per_ml,
        "sessions_count": template.sessions_count,
        "pattern": template.pattern,
        "source": template.source,
        "version": template.version,
    }
    data.update(changes)
    return data


def test_the_list_shows_the_three_shipped_templates_with_their_sources(
    client_for: Any, world: World
) -> None:
    page = client_for("clinic_admin").get("/clinic/protocols/").content.decode()
    assert FIVE_DAY in page
    assert SCHWARTZMAN in page
    assert "Single trial: 80 mg over 2 h 30 min, then reassess" in page
    assert "Tankha et al., Reg Anesth Pain Med 2025" in page
    assert "Schwartzman et al., Pain 2009" in page
    assert "ASRA/AAPM/ASA consensus guideline" in page
    assert page.count("<strong>Source:</strong>") == 3
    assert "Does not fit" not in page


def test_an_admin_adds_a_template_and_the_event_holds_its_values(
    client_for: Any, world: World
) -> None:
    response = client_for("clinic_admin").post("/clinic/protocols/new/", NEW_TEMPLATE)
    assert response.status_code == 302
    template = ProtocolTemplate.objects.get(clinic=world.clinic, name=NEW_TEMPLATE["name"])
    assert (template.dose_mg_per_kg, template.fixed_dose_mg, template.version) == (0.3, None, 1)
    (event,) = _events()
    assert event.action == "create"
    assert event.detail["new"]["dose_mg_per_kg"] == 0.3
    assert event.detail["new"]["source"] == "Local protocol, medical director 2026."


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"fixed_dose_mg": "80"},
            "Dose (mg/kg per session): Give exactly one dose: either mg/kg or a fixed dose",
        ),
        (
            {"dose_mg_per_kg": ""},
            "Dose (mg/kg per session): Give exactly one dose: either mg/kg or a fixed dose",
        ),
        (
            {"dose_mg_per_kg": "3", "duration_min": "240"},
            "over the clinic&#x27;s maximum dose per session of 2 mg/kg",
        ),
        (
            {"dose_mg_per_kg": "1.5", "duration_min": "60"},
            "this gives 1.5 mg/kg/h, over the clinic&#x27;s maximum infusion rate of 1 mg/kg/h",
        ),
        (
            {"dose_mg_per_kg": "", "fixed_dose_mg": "250", "duration_min": "300"},
            "Fixed dose (mg per session): Over the clinic&#x27;s dose limits: for a 70 kg adult",
        ),
        ({"dose_mg_per_kg": "-0.5"}, "Dose (mg/kg per session): Must be greater than 0."),
        ({"duration_min": "9"}, "Infusion duration (minutes): Between 10 and 480 minutes."),
        ({"duration_min": "481"}, "Infusion duration (minutes): Between 10 and 480 minutes."),
        ({"sessions_count": "40"}, "Sessions in the series: Between 1 and 30 sessions."),
        ({"concentration_mg_per_ml": "500"}, "Concentration (mg/mL): Must be at most 100."),
        ({"source": ""}, "Source: This field is required."),
        ({"name": FIVE_DAY.upper()}, "Name: This clinic already has a template with this name."),
    ],
)
def test_bad_template_input_names_the_field_and_adds_nothing(
    client_for: Any, world: World, changes: dict[str, str], message: str
) -> None:
    response = client_for("clinic_admin").post("/clinic/protocols/new/", NEW_TEMPLATE | changes)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert ProtocolTemplate.objects.filter(clinic=world.clinic).count() == 3
    assert _events() == []


def test_templates_are_checked_against_the_clinics_current_limits(world: World) -> None:
    services.clinic_policy_update(
        actor=Actor(user=world.clinic_admin),
        clinic=world.clinic,
        values={"max_session_mg_per_kg": 1.0},
        based_on_version=1,
        note="Stricter",
    )
    with pytest.raises(ValidationError) as info:
        services.protocol_template_create(
            actor=Actor(user=world.clinic_admin),
            values={
                "name": "1.2 mg/kg over 4 h",
                "dose_mg_per_kg": 1.2,
                "duration_min": 240,
                "source": "Test.",
            },
        )
    assert "maximum dose per session of 1 mg/kg" in info.value.message_dict["dose_mg_per_kg"][0]
    assert ProtocolTemplate.objects.filter(clinic=world.clinic).count() == 3


def test_the_list_flags_a_template_that_no_longer_fits_tightened_limits(
    client_for: Any, world: World
) -> None:
    services.clinic_policy_update(
        actor=Actor(user=world.clinic_admin),
        clinic=world.clinic,
        values={"max_session_mg_per_kg": 1.0},
        based_on_version=1,
        note="Stricter",
    )
    page = client_for("clinic_admin").get("/clinic/protocols/").content.decode()
    assert page.count("Does not fit the current dose limits") == 2
    assert "this gives 1.4 mg/kg, over the clinic&#x27;s maximum dose per session of 1" in page


def test_an_edit_bumps_the_version_and_audits_old_and_new_values(
    client_for: Any, world: World
) -> None:
    template = _template(world)
    response = client_for("clinic_admin").post(
        f"/clinic/protocols/{template.pk}/", _edit_data(template, duration_min="50")
    )
    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.version, template.duration_min) == (2, 50)
    (event,) = _events()
    assert event.action == "update"
    assert event.detail == {
        "from_version": 1,
        "version": 2,
        "changes": {"duration_min": {"old": 40, "new": 50}},
    }


def test_a_stale_edit_is_refused_with_a_clear_message(client_for: Any, world: World) -> None:
    template = _template(world)
    stale = _edit_data(template, duration_min="55")
    services.protocol_template_update(
        actor=Actor(user=world.clinic_admin),
        template_id=template.pk,
        expected_version=1,
        values={"sessions_count": 6},
    )
    response = client_for("clinic_admin").post(f"/clinic/protocols/{template.pk}/", stale)
    assert response.status_code == 422
    assert "changed by someone else after you opened it" in response.content.decode()
    template.refresh_from_db()
    assert (template.version, template.duration_min, template.sessions_count) == (2, 40, 6)
    assert len(_events()) == 1


def test_an_edit_past_the_limits_changes_nothing(world: World) -> None:
    template = _template(world)
    with pytest.raises(ValidationError) as info:
        services.protocol_template_update(
            actor=Actor(user=world.clinic_admin),
            template_id=template.pk,
            expected_version=1,
            values={"dose_mg_per_kg": 2.5},
        )
    assert "maximum dose per session" in info.value.message_dict["dose_mg_per_kg"][0]
    template.refresh_from_db()
    assert (template.dose_mg_per_kg, template.version) == (0.5, 1)
    assert _events() == []


def test_an_edit_that_changes_nothing_keeps_the_version(world: World) -> None:
    template = _template(world)
    services.protocol_template_update(
        actor=Actor(user=world.clinic_admin),
        template_id=template.pk,
        expected_version=1,
        values={"duration_min": 40, "name": FIVE_DAY},
    )
    template.refresh_from_db()
    assert template.version == 1
    assert _events() == []


def test_deactivate_and_reactivate_are_versioned_and_audited(client_for: Any, world: World) -> None:
    client = client_for("clinic_admin")
    template = _template(world)
    client.post(
        f"/clinic/protocols/{template.pk}/active/",
        {"is_active": "0", "version": "1", "confirmed": "1"},
    )
    template.refresh_from_db()
    assert (template.is_active, template.version) == (False, 2)
    assert template not in protocol_templates_active(clinic_id=world.clinic.pk)
    assert "Reactivate" in client.get("/clinic/protocols/").content.decode()
    client.post(f"/clinic/protocols/{template.pk}/active/", {"is_active": "1", "version": "2"})
    template.refresh_from_db()
    assert (template.is_active, template.version) == (True, 3)
    assert [e.detail["changes"] for e in _events()] == [
        {"is_active": {"old": True, "new": False}},
        {"is_active": {"old": False, "new": True}},
    ]


def test_a_stale_deactivation_is_refused(client_for: Any, world: World) -> None:
    template = _template(world)
    response = client_for("clinic_admin").post(
        f"/clinic/protocols/{template.pk}/active/",
        {"is_active": "0", "version": "7", "confirmed": "1"},
        follow=True,
    )
    assert "changed by someone else" in response.content.decode()
    template.refresh_from_db()
    assert (template.is_active, template.version) == (True, 1)


def test_reactivating_a_template_past_todays_limits_is_refused(world: World) -> None:
    admin = Actor(user=world.clinic_admin)
    template = _template(world, SCHWARTZMAN)
    services.protocol_template_set_active(
        actor=admin, template_id=template.pk, expected_version=1, is_active=False
    )
    services.clinic_policy_update(
        actor=admin,
        clinic=world.clinic,
        values={"max_session_mg_per_kg": 1.0},
        based_on_version=1,
        note="Stricter",
    )
    with pytest.raises(ValidationError, match="no longer fits the clinic's dose limits"):
        services.protocol_template_set_active(
            actor=admin, template_id=template.pk, expected_version=2, is_active=True
        )
    template.refresh_from_db()
    assert (template.is_active, template.version) == (False, 2)


def test_another_clinics_admin_cannot_touch_our_templates(world: World) -> None:
    other = Actor(user=factories.make_user(world.other_clinic, "clinic_admin"))
    template = _template(world)
    with pytest.raises(Http404):
        services.protocol_template_update(
            actor=other, template_id=template.pk, expected_version=1, values={"duration_min": 50}
        )
    with pytest.raises(StaleObjectError):
        # Our own admin with a wrong version is refused as stale, not as missing.
        services.protocol_template_update(
            actor=Actor(user=world.clinic_admin),
            template_id=template.pk,
            expected_version=9,
            values={"duration_min": 50},
        )
    template.refresh_from_db()
    assert template.duration_min == 40


def test_the_list_uses_the_same_queries_for_three_or_twenty_templates(
    client_for: Any, world: World, django_assert_num_queries: Any
) -> None:
    client = client_for("clinic_admin")
    client.get("/clinic/protocols/")
    # session, user, the user's clinic (role gate), the current policy, the templates
    with django_assert_num_queries(5):
        assert client.get("/clinic/protocols/").status_code == 200
    for i in range(17):
        ProtocolTemplate.objects.create(
            clinic=world.clinic, name=f"T{i:02d}", dose_mg_per_kg=0.5, duration_min=40, source="x"
        )
    with django_assert_num_queries(5):
        page = client.get("/clinic/protocols/").content.decode()
    assert "T16" in page
