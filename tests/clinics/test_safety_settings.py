"""Safety settings: each change is a new ClinicPolicy version, audited with old and new values;
stale forms and bad values are refused with nothing written."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import models
from django.http import Http404

from ketaclinic.audit.models import AuditEvent
from ketaclinic.audit.services import Actor
from ketaclinic.clinical.dosing import DoseLimits
from ketaclinic.clinics import services
from ketaclinic.clinics.models import ClinicPolicy
from ketaclinic.clinics.policy_fields import POLICY_FIELDS, POLICY_GROUPS
from ketaclinic.clinics.selectors import clinic_policy_current
from ketaclinic.clinics.services import policy as policy_services
from ketaclinic.lib.forms import StaleObjectError
from tests import factories
from tests.conftest import World


def _update(world: World, values: dict[str, object], *, based_on: int = 1, note: str = "why"):  # type: ignore[no-untyped-def]
    return services.clinic_policy_update(
        actor=Actor(user=world.clinic_admin),
        clinic=world.clinic,
        values=values,
        based_on_version=based_on,
        note=note,
    )


def _policy_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type="clinic_policy").order_by("id"))


def _form_data(policy: ClinicPolicy, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {n: getattr(policy, n) for n in ClinicPolicy.THRESHOLD_FIELDS}
    data.update(based_on_version=policy.version, note="Medical director's review")
    data.update(changes)
    return data


# --- the field table --------------------------------------------------------------------------


def test_the_field_table_covers_every_threshold_once_in_model_order() -> None:
    names = [f.name for group in POLICY_GROUPS for f in group.fields]
    assert names == list(ClinicPolicy.THRESHOLD_FIELDS)
    assert [g.title for g in POLICY_GROUPS] == [
        "Eligibility",
        "Dose limits",
        "Before the infusion",
        "Alerts during the infusion",
        "Discharge and chair time",
        "Measured patient, dose given and charted times",
    ]


@pytest.mark.parametrize("name", ClinicPolicy.THRESHOLD_FIELDS)
def test_every_default_lies_within_its_bounds(name: str) -> None:
    spec = POLICY_FIELDS[name]
    assert spec.minimum <= spec.default <= spec.maximum
    model_field = ClinicPolicy._meta.get_field(name)
    assert isinstance(model_field, models.Field)
    assert spec.integer == (model_field.get_internal_type() != "FloatField")


def test_the_defaults_pass_the_service_checks_unchanged() -> None:
    defaults = {name: POLICY_FIELDS[name].default for name in ClinicPolicy.THRESHOLD_FIELDS}
    assert services.clinic_policy_values_check(defaults) == defaults


# --- the service ------------------------------------------------------------------------------


def test_an_update_writes_the_next_version_and_never_edits_the_old_row(world: World) -> None:
    before = clinic_policy_current(clinic_id=world.clinic.pk)
    new = _update(
        world, {"max_session_mg": 150.0, "precheck_max_heart_rate": 105}, note="Lower cap"
    )
    assert new.version == 2
    assert new.created_by == world.clinic_admin
    assert new.change_note == "Lower cap"
    assert new.max_session_mg == 150.0
    assert new.precheck_max_heart_rate == 105
    # Unchanged thresholds carry over.
    assert new.min_spo2 == before.min_spo2
    old = ClinicPolicy.objects.get(pk=before.pk)
    assert old.version == 1
    assert old.max_session_mg == 200.0
    assert old.precheck_max_heart_rate == 110
    current = clinic_policy_current(clinic_id=world.clinic.pk)
    assert current.pk == new.pk
    assert current.dose_limits() == DoseLimits(max_session_mg=150.0)
    assert current.snapshot()["policy_version"] == 2


def test_each_update_is_audited_with_the_old_and_new_values(world: World) -> None:
    new = _update(world, {"max_session_mg": 150.0, "elevated_systolic_bp": 150}, note="Tighter")
    _update(world, {"precheck_min_spo2": 95}, based_on=2, note="Second")
    first, second = _policy_events()
    assert first.action == "update"
    assert first.actor == world.clinic_admin
    assert first.clinic_id == world.clinic.pk
    assert first.object_id == str(new.pk)
    assert first.detail == {
        "version": 2,
        "based_on_version": 1,
        "note": "Tighter",
        "old": {"max_session_mg": 200.0, "elevated_systolic_bp": 160},
        "new": {"max_session_mg": 150.0, "elevated_systolic_bp": 150},
    }
    assert second.detail["old"] == {"precheck_min_spo2": 94}
    assert second.detail["new"] == {"precheck_min_spo2": 95}
    assert second.detail["version"] == 3


def test_a_form_based_on_an_older_version_is_refused_and_nothing_changes(world: World) -> None:
    _update(world, {"max_session_mg": 150.0})
    with pytest.raises(StaleObjectError, match="changed by someone else"):
        _update(world, {"max_session_mg": 180.0}, based_on=1)
    assert ClinicPolicy.objects.filter(clinic=world.clinic).count() == 2
    assert clinic_policy_current(clinic_id=world.clinic.pk).max_session_mg == 150.0
    assert len(_policy_events()) == 1


def test_a_version_number_already_taken_is_reported_as_stale(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two admins racing on a database without row locks: the second insert hits the unique
    # (clinic, version) constraint, which must read as a stale form, with nothing saved.
    first = clinic_policy_current(clinic_id=world.clinic.pk)
    _update(world, {"max_session_mg": 150.0})
    # The checks read the version in force in clinics.services.policy, where they live.
    monkeypatch.setattr(policy_services, "clinic_policy_current", lambda clinic_id: first)
    with pytest.raises(StaleObjectError):
        _update(world, {"max_session_mg": 180.0})
    assert list(
        ClinicPolicy.objects.filter(clinic=world.clinic).values_list("version", "max_session_mg")
    ) == [(2, 150.0), (1, 200.0)]
    assert len(_policy_events()) == 1


def test_a_change_without_a_note_is_refused(world: World) -> None:
    with pytest.raises(ValidationError) as info:
        _update(world, {"max_session_mg": 150.0}, note="   ")
    assert "note" in info.value.message_dict
    assert ClinicPolicy.objects.filter(clinic=world.clinic).count() == 1
    assert _policy_events() == []


def test_a_save_that_changes_nothing_is_refused(world: World) -> None:
    with pytest.raises(ValidationError, match="No setting was changed"):
        _update(world, {"max_session_mg": 200.0})
    assert ClinicPolicy.objects.filter(clinic=world.clinic).count() == 1
    assert _policy_events() == []


BAD_VALUES = [
    # (changes, field named, words in the message)
    ({"elevated_systolic_bp": 185}, "elevated_systolic_bp", "must not be above"),
    ({"elevated_diastolic_bp": 115}, "elevated_diastolic_bp", "must not be above"),
    ({"max_session_mg": 5000.0}, "max_session_mg", "between 1 and 300 mg (ketaclinic's ceiling)"),
    ({"max_session_mg": 300.5}, "max_session_mg", "between 1 and 300 mg (ketaclinic's ceiling)"),
    ({"max_session_mg_per_kg": 3.5}, "max_session_mg_per_kg", "between 0.01 and 3 mg/kg"),
    ({"max_rate_mg_per_kg_h": 2.1}, "max_rate_mg_per_kg_h", "between 0.01 and 2 mg/kg/h"),
    ({"max_rate_mg_per_kg_h": 0.0}, "max_rate_mg_per_kg_h", "(ketaclinic's floor); got 0"),
    ({"discharge_min_aldrete": 8}, "discharge_min_aldrete", "between 9 and 10 points"),
    ({"discharge_min_observation_min": 15}, "discharge_min_observation_min", "between 30 and"),
    ({"max_session_mg_per_kg": -1.0}, "max_session_mg_per_kg", "between"),
    ({"min_spo2": 101}, "min_spo2", "between 80 and 100 %"),
    ({"min_age_years": 16}, "min_age_years", "between 18 and 100"),
    ({"precheck_max_systolic_bp": 190}, "precheck_max_systolic_bp", "must not be above"),
    ({"precheck_min_spo2": 90}, "precheck_min_spo2", "must not be above"),
    ({"recovery_min": 20}, "recovery_min", "must not be above"),
    ({"vitals_interval_min": 30}, "vitals_interval_min", "between 5 and 15"),
    ({"alert_rass": 2}, "alert_rass", "between -5 and 0"),
    ({"first_line_classes_required": 4}, "first_line_classes_required", "between 0 and 3"),
    ({"alert_heart_rate": 120.5}, "alert_heart_rate", "whole number"),
    ({"alert_heart_rate": True}, "alert_heart_rate", "Enter a number"),
    ({"max_session_mg": "200"}, "max_session_mg", "Enter a number"),
    ({"max_session_mg": float("nan")}, "max_session_mg", "Enter a number"),
]


@pytest.mark.parametrize(("changes", "field", "words"), BAD_VALUES)
def test_bad_values_are_refused_naming_the_field_and_nothing_changes(
    world: World, changes: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(ValidationError) as info:
        _update(world, changes)
    errors = info.value.message_dict
    assert list(errors) == [field]
    assert words in " ".join(errors[field])
    assert ClinicPolicy.objects.filter(clinic=world.clinic).count() == 1
    assert _policy_events() == []


def test_every_bad_field_is_reported_at_once(world: World) -> None:
    with pytest.raises(ValidationError) as info:
        _update(world, {"min_spo2": 101, "max_session_mg": 0.0, "alert_rass": 3})
    assert set(info.value.message_dict) == {"min_spo2", "max_session_mg", "alert_rass"}


def test_the_clinical_cores_refusals_stay_under_the_field_they_name() -> None:
    # The core's own ranges are wider than ours, so this guard is reached only if the two ever
    # disagree; it must still put the message under the right field.
    errors: dict[str, list[str]] = {}
    values: dict[str, object] = {
        name: POLICY_FIELDS[name].default for name in ClinicPolicy.THRESHOLD_FIELDS
    }
    values.update(min_age_years=200, max_session_mg=0.0)
    services._clinical_check(errors, values)
    assert set(errors) == {"min_age_years", "max_session_mg"}
    assert errors["min_age_years"][0].startswith("min_age_years")


def test_an_unknown_setting_is_a_programming_error(world: World) -> None:
    with pytest.raises(ValueError, match="policy_version"):
        _update(world, {"policy_version": 9})


@pytest.mark.parametrize("persona", ["physician", "nurse", "front_desk", "alice"])
def test_only_a_clinic_admin_may_change_the_settings(world: World, persona: str) -> None:
    with pytest.raises(Http404):
        services.clinic_policy_update(
            actor=Actor(user=world.persona(persona)),
            clinic=world.clinic,
            values={"max_session_mg": 150.0},
            based_on_version=1,
            note="no",
        )
    assert ClinicPolicy.objects.filter(clinic=world.clinic).count() == 1


def test_an_admin_of_another_clinic_cannot_change_ours(world: World) -> None:
    other_admin = factories.make_user(world.other_clinic, "clinic_admin")
    with pytest.raises(Http404):
        services.clinic_policy_update(
            actor=Actor(user=other_admin),
            clinic=world.clinic,
            values={"max_session_mg": 150.0},
            based_on_version=1,
            note="no",
        )
    assert ClinicPolicy.objects.filter(clinic=world.clinic).count() == 1


def test_a_clinic_without_a_saved_policy_gets_version_one_from_the_defaults(
    world: World,
) -> None:
    ClinicPolicy.objects.filter(clinic=world.clinic).delete()
    new = _update(world, {"max_session_mg": 150.0}, based_on=0)
    assert new.version == 1
    assert _policy_events()[0].detail["old"] == {"max_session_mg": 200.0}


# --- pages ------------------------------------------------------------------------------------


def test_the_settings_page_groups_values_with_units_and_policy_defaults(
    client_for: Any, world: World
) -> None:
    _update(world, {"max_session_mg": 150.0}, note="Lower cap")
    page = client_for("clinic_admin").get("/clinic/settings/safety/").content.decode()
    for title in ("Eligibility", "Dose limits", "Before the infusion", "Alerts during"):
        assert title in page
    assert "Discharge and chair time" in page
    assert "Version 2" in page
    assert "Lower cap" in page
    assert "<strong>150 mg</strong>" in page
    assert "Default: 200 mg (changed)" in page
    assert "<strong>1 mg/kg/h</strong>" in page
    assert "Default: 3 months" in page
    assert ".md" not in page


def test_the_edit_form_saves_a_new_version(client_for: Any, world: World) -> None:
    client = client_for("clinic_admin")
    form_page = client.get("/clinic/settings/safety/edit/").content.decode()
    assert 'name="based_on_version"' in form_page
    assert "Maximum total per session (mg)" in form_page
    assert "Default: 200 mg." in form_page
    assert ".md" not in form_page
    policy = clinic_policy_current(clinic_id=world.clinic.pk)
    response = client.post(
        "/clinic/settings/safety/edit/", _form_data(policy, max_session_mg="175")
    )
    assert response.status_code == 302
    assert response["Location"] == "/clinic/settings/safety/"
    current = clinic_policy_current(clinic_id=world.clinic.pk)
    assert (current.version, current.max_session_mg) == (2, 175.0)
    assert current.change_note == "Medical director's review"
    assert _policy_events()[0].detail["new"] == {"max_session_mg": 175.0}


def test_a_stale_form_is_refused_with_a_clear_message(client_for: Any, world: World) -> None:
    old = clinic_policy_current(clinic_id=world.clinic.pk)
    _update(world, {"precheck_min_spo2": 95})
    response = client_for("clinic_admin").post(
        "/clinic/settings/safety/edit/", _form_data(old, max_session_mg="175")
    )
    assert response.status_code == 422
    assert "changed by someone else after you opened it" in response.content.decode()
    assert clinic_policy_current(clinic_id=world.clinic.pk).max_session_mg == 200.0
    assert ClinicPolicy.objects.filter(clinic=world.clinic).count() == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_session_mg": "5000"}, "Maximum total per session (mg): "),
        ({"elevated_systolic_bp": "190"}, "must not be above crisis systolic blood pressure"),
        ({"min_spo2": "ninety"}, "SpO2 below which to review (%): Enter a whole number."),
        ({"note": ""}, "What changed and why: This field is required."),
    ],
)
def test_bad_form_input_names_the_field_and_saves_nothing(
    client_for: Any, world: World, changes: dict[str, str], message: str
) -> None:
    policy = clinic_policy_current(clinic_id=world.clinic.pk)
    response = client_for("clinic_admin").post(
        "/clinic/settings/safety/edit/", _form_data(policy, **changes)
    )
    assert response.status_code == 422
    assert message in response.content.decode()
    assert ClinicPolicy.objects.filter(clinic=world.clinic).count() == 1
    assert _policy_events() == []


def test_the_history_lists_each_version_with_who_when_note_and_what_changed(
    client_for: Any, world: World
) -> None:
    _update(world, {"max_session_mg": 150.0, "precheck_min_spo2": 95}, note="Lower cap")
    _update(world, {"recovery_min": 90}, based_on=2, note="Longer recovery")
    page = client_for("clinic_admin").get("/clinic/settings/safety/history/").content.decode()
    assert page.index("Version 3") < page.index("Version 2") < page.index("Version 1")
    assert "· Ada Admin · “Lower cap”" in page
    assert "· Ada Admin · “Longer recovery”" in page
    assert "<td>Maximum total per session</td><td>200 mg</td><td>150 mg</td>" in page
    assert "<td>Defer at SpO2 on room air below</td><td>94 %</td><td>95 %</td>" in page
    assert "<td>Chair time kept after each infusion</td><td>60 min</td><td>90 min</td>" in page
    assert "The first version." in page


def _grow_history(world: World, n: int) -> None:
    for i in range(n):
        current = clinic_policy_current(clinic_id=world.clinic.pk)
        _update(world, {"recovery_min": 60 + i + 1}, based_on=current.version, note=f"change {i}")


@pytest.mark.parametrize("url", ["/clinic/settings/safety/", "/clinic/settings/safety/history/"])
def test_policy_pages_use_the_same_queries_for_one_or_twenty_versions(
    client_for: Any, world: World, django_assert_num_queries: Any, url: str
) -> None:
    client = client_for("clinic_admin")
    client.get(url)
    # session, user, the user's clinic (role gate), the policy versions with their authors (and
    # their approvers); the settings page also reads the proposals waiting for approval.
    expected = 5 if url == "/clinic/settings/safety/" else 4
    with django_assert_num_queries(expected):
        assert client.get(url).status_code == 200
    _grow_history(world, 20)
    with django_assert_num_queries(expected):
        page = client.get(url).content.decode()
    assert "change 19" in page
