"""The waste witness proves who they are through the sign-in path (issue 15 item 3): the password
and then the code of their authenticator app; each wrong answer audited, locked after the sign-in
limit with a clear message, nothing written; the right answers first time close the record."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from ketaclinic.accounts.models import User
from ketaclinic.audit.models import Action, AuditEvent
from ketaclinic.infusions.models import ControlledSubstanceRecord
from tests import factories
from tests.conftest import World
from tests.factories.accounts import unused_totp_code
from tests.factories.infusions import Day, day_at
from tests.safety.helpers import chart_rows

pytestmark = pytest.mark.django_db

LOCKED = "Too many wrong passwords for this witness"
WRONG = "The witness&#x27;s password is not correct."


def _close(nurse: Client, day: Day, witness_id: int, password: str, **extra: str) -> Any:
    """The close form as the nurse posts it; the witness's code is the one their app shows now
    unless the test gives one."""
    if "witness_code" not in extra:
        extra["witness_code"] = unused_totp_code(User.objects.get(pk=witness_id))
    data = {
        "version": str(day.v),
        "given_mg": "35",
        "wasted_mg": "15",
        "witness": str(witness_id),
        "witness_password": password,
        **extra,
    }
    return nurse.post(f"/infusions/sessions/{day.session.public_id}/reconcile/", data)


def _rows_but_audit() -> dict[str, Any]:
    rows = chart_rows()
    del rows["audit"]
    return rows


def _auth_events() -> list[tuple[str, int | None, str, dict[str, Any]]]:
    return list(
        AuditEvent.objects.filter(action__in=[Action.REAUTH_REFUSED, Action.LOCKOUT])
        .order_by("id")
        .values_list("action", "actor_id", "object_id", "detail")
    )


def test_thirty_guesses_lock_the_witness_and_the_right_password_is_then_refused(
    world: World, client_for: Any
) -> None:
    nurse = client_for("nurse")
    day = day_at(world, "discharged")
    physician = world.physician
    before = _rows_but_audit()
    other_events = AuditEvent.objects.exclude(action="read").count()

    texts = []
    for i in range(30):
        response = _close(nurse, day, physician.pk, f"guess-number-{i}")
        assert response.status_code == 422
        texts.append(response.content.decode())
    assert all(WRONG in t and LOCKED not in t for t in texts[:5])
    assert all(LOCKED in t and WRONG not in t for t in texts[5:])
    # The right password during the lock is not even checked.
    response = _close(nurse, day, physician.pk, factories.PASSWORD)
    assert response.status_code == 422
    assert LOCKED in response.content.decode()

    assert _rows_but_audit() == before
    assert ControlledSubstanceRecord.objects.get().reconciled_at is None
    who = str(physician.pk)
    refused = ("reauth_refused", world.nurse.pk, who, {"purpose": "waste witness"})
    assert _auth_events() == [
        *[refused] * 5,
        # The witness's lock (account and address), then, as allauth counts refused attempts
        # towards the address's own limit of 10 a minute, the address's: each audited once.
        (
            "lockout",
            world.nurse.pk,
            who,
            {"limit": "account and address", "attempts": 5, "minutes": 5.0},
        ),
        ("lockout", world.nurse.pk, who, {"limit": "address", "attempts": 10, "minutes": 1.0}),
    ]
    assert AuditEvent.objects.exclude(action="read").count() == other_events + 7
    # A lock here is a lock on the sign-in page, from this address.
    response = Client().post(
        "/accounts/login/", {"login": physician.email, "password": factories.PASSWORD}
    )
    assert "Too many failed login attempts" in response.content.decode()


def test_the_right_password_first_time_closes_the_record(world: World, client_for: Any) -> None:
    nurse = client_for("nurse")
    day = day_at(world, "discharged")
    other_events = AuditEvent.objects.exclude(action="read").count()
    response = _close(nurse, day, world.physician.pk, factories.PASSWORD)
    assert response.status_code == 302
    record = ControlledSubstanceRecord.objects.get()
    assert (record.waste_witness, record.reconciled_by) == (world.physician, world.nurse)
    assert _auth_events() == []
    # One write, one event: it names the witness.
    (event,) = AuditEvent.objects.exclude(action="read").order_by("id")[other_events:]
    assert event.detail["witness"] == world.physician.pk


def test_a_wrong_password_is_audited_and_changes_nothing(world: World, client_for: Any) -> None:
    nurse = client_for("nurse")
    day = day_at(world, "discharged")
    before = _rows_but_audit()
    response = _close(nurse, day, world.physician.pk, "not-the-password")
    assert response.status_code == 422
    assert WRONG in response.content.decode()
    assert _rows_but_audit() == before
    event = AuditEvent.objects.get(action=Action.REAUTH_REFUSED)
    assert (event.actor_id, event.object_id, event.clinic_id, event.ip_address) == (
        world.nurse.pk,
        str(world.physician.pk),
        world.clinic.pk,
        "127.0.0.1",
    )
    assert "not-the-password" not in str(event.detail)


def test_no_password_is_checked_for_oneself_or_a_form_refused_elsewhere(
    world: World, client_for: Any
) -> None:
    nurse = client_for("nurse")
    day = day_at(world, "discharged")
    before = _rows_but_audit()
    response = _close(nurse, day, world.nurse.pk, factories.PASSWORD)
    assert response.status_code == 422
    assert "The witness must be a second person" in response.content.decode()
    # Another field refused: the witness's password is not tried (nor counted).
    response = _close(nurse, day, world.physician.pk, "not-the-password", given_mg="")
    assert response.status_code == 422
    response = _close(nurse, day, world.physician.pk, "")
    assert "The witness types their own password here." in response.content.decode()
    assert _rows_but_audit() == before
    assert _auth_events() == []


def test_the_password_alone_does_not_make_a_witness(world: World, client_for: Any) -> None:
    """Someone who knows a physician's password still needs the code their app shows."""
    nurse = client_for("nurse")
    day = day_at(world, "discharged")
    before = _rows_but_audit()
    physician = world.physician
    missing = _close(nurse, day, physician.pk, factories.PASSWORD, witness_code="")
    assert missing.status_code == 422
    assert "The witness types the code from their authenticator app here." in (
        missing.content.decode()
    )
    wrong = _close(nurse, day, physician.pk, factories.PASSWORD, witness_code="000000")
    assert wrong.status_code == 422
    assert "The code is not correct." in wrong.content.decode()
    assert _rows_but_audit() == before
    assert ControlledSubstanceRecord.objects.get().reconciled_at is None
    # A blank code is not an attempt; the wrong one is audited.
    code_refused = {"purpose": "waste witness", "factor": "code"}
    assert _auth_events() == [("reauth_refused", world.nurse.pk, str(physician.pk), code_refused)]


def test_a_witness_without_a_second_factor_is_asked_the_password_only(
    world: World, client_for: Any
) -> None:
    """Staff enrol before any page; the ones without a factor are demo accounts in demo mode."""
    nurse = client_for("nurse")
    day = day_at(world, "discharged")
    unenrolled = factories.make_user(world.clinic, "physician", mfa=False)
    response = _close(nurse, day, unenrolled.pk, factories.PASSWORD, witness_code="")
    assert response.status_code == 302
    assert ControlledSubstanceRecord.objects.get().waste_witness == unenrolled
