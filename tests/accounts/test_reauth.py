"""Re-authentication before a signature or a safety change (issue 15 item 3).

A signer whose last proof of identity is older than ACCOUNT_REAUTHENTICATION_TIMEOUT is sent to
allauth's password page, then its code page; the POST that asked is kept and replayed once, with
what was posted. Until then nothing changes; every answer is audited with the address.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.test import Client, RequestFactory
from django.urls import reverse

from ketaclinic.accounts.models import User
from ketaclinic.accounts.reauth import factors_missing, reauthentication_response
from ketaclinic.api.api import api
from ketaclinic.assessments.models import Consultation
from ketaclinic.audit.models import AuditEvent
from ketaclinic.clinics.models import ClinicPolicy, PolicyProposal
from ketaclinic.clinics.selectors import clinic_policy_current
from ketaclinic.infusions.models import InfusionSession
from ketaclinic.plans import services as plan_services
from ketaclinic.plans.models import Plan
from tests.conftest import World
from tests.factories import PASSWORD, ensure_eligible
from tests.factories.accounts import enrol_totp, unused_totp_code
from tests.factories.assessments import complete
from tests.factories.infusions import day_at
from tests.factories.plans import draft, physician, with_protocol
from tests.factories.sessions import record_sign_in, signed_in_client

pytestmark = pytest.mark.django_db

REAUTH = reverse("account_reauthenticate")
CODE = reverse("mfa_reauthenticate")
# Longer ago than ACCOUNT_REAUTHENTICATION_TIMEOUT (300 s): the sign-in no longer counts.
LONG_AGO = 10


def enrol(user: User) -> User:
    """``user`` with an authenticator app (staff have one from the factories; enrolled here
    through allauth's API where not), so the test computes the code the app would show."""
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        enrol_totp(user)
    return user


def writes() -> list[tuple[str, str, str]]:
    """Every audit event but reads, oldest first."""
    return list(
        AuditEvent.objects.exclude(action="read")
        .order_by("id")
        .values_list("action", "object_type", "object_id")
    )


def plan_rows() -> list[tuple[Any, ...]]:
    return list(
        Plan.objects.order_by("pk").values_list("pk", "status", "version", "signed_by", "signed_at")
    )


@pytest.fixture
def doc(world: World) -> Client:
    """The physician, enrolled, signed in long enough ago to be asked again."""
    return signed_in_client(enrol(world.physician), minutes_ago=LONG_AGO)


def signable(world: World) -> Plan:
    """A draft plan ready to sign: eligibility in force, a protocol saved."""
    ensure_eligible(world.alice_patient, world.physician)
    return with_protocol(world, draft(world))


def sign_url(plan: Plan) -> str:
    return reverse("plans:plan_sign", kwargs={"plan_id": plan.public_id})


# --- the journey --------------------------------------------------------------------------------


def test_a_stale_signer_proves_password_and_code_and_the_plan_is_signed_once(
    world: World, doc: Client
) -> None:
    client = doc
    plan = signable(world)
    url = sign_url(plan)
    rows, events = plan_rows(), writes()

    response = client.post(url, {"version": plan.version})
    assert response.status_code == 302
    assert response["Location"] == f"{REAUTH}?next={quote(url, safe='')}"
    assert (plan_rows(), writes()) == (rows, events)

    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "Confirm it's you" in page.content.decode()

    response = client.post(REAUTH, {"password": PASSWORD, "next": url})
    assert response.status_code == 302
    assert response["Location"] == f"{CODE}?next={quote(url, safe='')}"
    assert plan_rows() == rows
    me = str(world.physician.pk)
    assert writes() == [*events, ("reauth", "user", me)]

    response = client.post(CODE, {"code": unused_totp_code(world.physician), "next": url})
    assert response.status_code == 302
    assert response["Location"] == reverse("plans:plan_detail", kwargs={"plan_id": plan.public_id})
    plan.refresh_from_db()
    assert (plan.status, plan.signed_by) == ("signed", world.physician)
    assert writes() == [
        *events,
        ("reauth", "user", me),
        ("reauth", "user", me),
        ("sign", "plan", str(plan.public_id)),
    ]
    methods = [
        e.detail["method"] for e in AuditEvent.objects.filter(action="reauth").order_by("id")
    ]
    assert methods == ["password", "mfa:totp"]
    assert {e.ip_address for e in AuditEvent.objects.filter(action="reauth")} == {"127.0.0.1"}

    # The kept request is gone: confirming again (the back button) signs nothing twice.
    client.post(REAUTH, {"password": PASSWORD, "next": url})
    assert AuditEvent.objects.filter(action="sign").count() == 1


def test_the_override_is_saved_with_what_was_posted(world: World, doc: Client) -> None:
    client = doc
    c = complete(world)
    url = reverse("assessments:consultation_sign", kwargs={"public_id": c.public_id})
    reason = "Home readings are normal; white-coat effect documented."
    posted = {"version": c.version, "action": "override", "outcome": "eligible", "reason": reason}
    before = writes()

    assert client.post(url, posted)["Location"].startswith(REAUTH)
    c.refresh_from_db()
    assert (c.is_locked, writes()) == (False, before)
    client.post(REAUTH, {"password": PASSWORD, "next": url})
    response = client.post(CODE, {"code": unused_totp_code(world.physician), "next": url})

    assert response.status_code == 302
    decision = Consultation.objects.get(pk=c.pk).decision
    assert (decision.status, decision.final_outcome, decision.override_reason) == (
        "overridden",
        "eligible",
        reason,
    )
    assert AuditEvent.objects.filter(action="override").count() == 1


def test_a_page_gone_stale_meanwhile_is_still_refused_after_the_proof(
    world: World, doc: Client
) -> None:
    client = doc
    plan = signable(world)
    url = sign_url(plan)
    opened_at = plan.version
    client.post(url, {"version": opened_at})
    # While the physician looks for their phone, a colleague's change bumps the plan's version.
    plan = plan_services.plan_update(
        actor=physician(world),
        plan_id=str(plan.public_id),
        expected_version=opened_at,
        goals="Changed meanwhile",
        review_date=plan.review_date,
        components={"cbt": "8 sessions"},
    )
    rows, events = plan_rows(), writes()

    client.post(REAUTH, {"password": PASSWORD, "next": url})
    response = client.post(CODE, {"code": unused_totp_code(world.physician), "next": url})

    assert response.status_code == 409
    assert plan_rows() == rows
    assert [w for w in writes()[len(events) :] if w[0] != "reauth"] == []


def test_a_wrong_password_is_refused_audited_and_the_kept_post_waits(
    world: World, doc: Client
) -> None:
    client = doc
    plan = signable(world)
    url = sign_url(plan)
    client.post(url, {"version": plan.version}, REMOTE_ADDR="203.0.113.7")
    rows, events = plan_rows(), writes()

    response = client.post(
        REAUTH, {"password": "not-my-password", "next": url}, REMOTE_ADDR="203.0.113.7"
    )

    assert response.status_code == 200
    assert "password" in response.content.decode().lower()
    assert plan_rows() == rows
    assert writes() == [*events, ("reauth_refused", "user", str(world.physician.pk))]
    refused = AuditEvent.objects.get(action="reauth_refused")
    assert (refused.actor, refused.ip_address, refused.detail) == (
        world.physician,
        "203.0.113.7",
        {"method": "password"},
    )
    assert "not-my-password" not in str(refused.detail)

    # The signature was not lost: the right answers still sign it, once.
    client.post(REAUTH, {"password": PASSWORD, "next": url})
    client.post(CODE, {"code": unused_totp_code(world.physician), "next": url})
    plan.refresh_from_db()
    assert plan.status == "signed"


def test_the_password_alone_is_not_enough_for_an_enrolled_signer(world: World, doc: Client) -> None:
    client = doc
    plan = signable(world)
    url = sign_url(plan)
    client.post(url, {"version": plan.version})
    client.post(REAUTH, {"password": PASSWORD, "next": url})
    rows = plan_rows()

    # Posting the signature again, or a wrong code, does not get past the second factor.
    response = client.post(url, {"version": plan.version})
    assert response["Location"].startswith(CODE)
    response = client.post(CODE, {"code": "000000", "next": url})
    assert response.status_code == 200
    assert plan_rows() == rows
    refused = AuditEvent.objects.get(action="reauth_refused")
    assert refused.detail == {"method": "mfa:totp"}


def test_wrong_passwords_lock_like_sign_ins_and_the_lock_refuses_the_right_one(
    world: World, doc: Client
) -> None:
    client = doc
    plan = signable(world)
    url = sign_url(plan)
    client.post(url, {"version": plan.version})
    rows = plan_rows()
    for _ in range(5):
        client.post(REAUTH, {"password": "not-my-password", "next": url})

    response = client.post(REAUTH, {"password": PASSWORD, "next": url})

    assert response.status_code == 200
    assert "Too many failed" in response.content.decode()
    assert plan_rows() == rows
    assert not AuditEvent.objects.filter(action="reauth").exists()
    assert AuditEvent.objects.filter(action="reauth_refused").count() == 6


# --- what asks, and what does not ----------------------------------------------------------------


def _plan_sign(world: World) -> tuple[str, dict[str, Any]]:
    plan = signable(world)
    return sign_url(plan), {"version": plan.version}


def _decision(action: str) -> Any:
    def make(world: World) -> tuple[str, dict[str, Any]]:
        c = complete(world)
        url = reverse("assessments:consultation_sign", kwargs={"public_id": c.public_id})
        data: dict[str, Any] = {"version": c.version, "action": action}
        if action == "override":
            data.update(outcome="eligible", reason="White-coat effect documented.")
        return url, data

    return make


def _session_sign(world: World) -> tuple[str, dict[str, Any]]:
    day = day_at(world, "discharged")
    day.reconcile()
    return f"/infusions/sessions/{day.session.public_id}/sign/", {"sign-version": day.v}


def _settings_form(world: World, **changes: object) -> dict[str, Any]:
    policy = clinic_policy_current(clinic_id=world.clinic.pk)
    data: dict[str, Any] = {n: getattr(policy, n) for n in ClinicPolicy.THRESHOLD_FIELDS}
    data.update(based_on_version=policy.version, note="Heavier patients", **changes)
    return data


def _policy_edit(world: World) -> tuple[str, dict[str, Any]]:
    return reverse("clinics:policy_edit"), _settings_form(world, vitals_interval_min=10)


def _proposal_approve(world: World) -> tuple[str, dict[str, Any]]:
    enrol(world.clinic_admin)
    admin = signed_in_client(world.clinic_admin)
    admin.post(reverse("clinics:policy_edit"), _settings_form(world, max_session_mg=250))
    proposal = PolicyProposal.objects.get()
    return reverse("clinics:policy_proposal_approve", kwargs={"proposal_id": proposal.pk}), {}


def _all_rows() -> list[Any]:
    return [
        plan_rows(),
        list(Consultation.objects.values_list("pk", "version", "status")),
        list(InfusionSession.objects.values_list("pk", "version", "status")),
        list(ClinicPolicy.objects.values_list("pk", "version")),
        list(PolicyProposal.objects.values_list("pk", "status")),
    ]


SIGNING_POSTS = {
    "plan signature": ("physician", _plan_sign),
    "decision signature": ("physician", _decision("sign")),
    "decision override": ("physician", _decision("override")),
    "infusion session signature": ("physician", _session_sign),
    "safety settings change": ("clinic_admin", _policy_edit),
    "safety proposal approval": ("physician", _proposal_approve),
}


@pytest.mark.parametrize("name", list(SIGNING_POSTS))
def test_every_signature_and_safety_change_asks_a_stale_user_and_changes_nothing(
    world: World, name: str
) -> None:
    persona, make = SIGNING_POSTS[name]
    user = world.persona(persona)
    assert user is not None
    enrol(user)
    url, data = make(world)
    client = signed_in_client(user, minutes_ago=LONG_AGO)
    rows, events = _all_rows(), writes()

    response = client.post(url, data)

    assert (response.status_code, response["Location"]) == (
        302,
        f"{REAUTH}?next={quote(url, safe='')}",
    )
    assert (_all_rows(), writes()) == (rows, events)


@pytest.mark.parametrize("name", list(SIGNING_POSTS))
def test_an_htmx_post_is_sent_to_confirm_too(world: World, name: str) -> None:
    persona, make = SIGNING_POSTS[name]
    user = world.persona(persona)
    assert user is not None
    enrol(user)
    url, data = make(world)
    client = signed_in_client(user, minutes_ago=LONG_AGO)
    rows, events = _all_rows(), writes()

    response = client.post(url, data, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{REAUTH}?next={quote(url, safe='')}"
    assert (_all_rows(), writes()) == (rows, events)


@pytest.mark.parametrize(
    ("minutes_ago", "asked"),
    [(0, False), (settings.ACCOUNT_REAUTHENTICATION_TIMEOUT / 60 - 1, False), (LONG_AGO, True)],
)
def test_a_sign_in_counts_for_the_timeout(world: World, minutes_ago: float, asked: bool) -> None:
    enrol(world.physician)
    plan = signable(world)
    client = signed_in_client(world.physician, minutes_ago=minutes_ago)

    response = client.post(sign_url(plan), {"version": plan.version})

    assert response["Location"].startswith(REAUTH) is asked
    plan.refresh_from_db()
    assert plan.status == ("draft" if asked else "signed")


def test_showing_the_sign_form_and_re_evaluating_a_draft_ask_nothing(
    world: World, doc: Client
) -> None:
    client = doc
    c = complete(world)
    url = reverse("assessments:consultation_sign", kwargs={"public_id": c.public_id})
    assert client.get(url).status_code == 200
    response = client.post(url, {"version": c.version, "action": "reevaluate"})
    assert response.status_code == 302
    assert not response["Location"].startswith(REAUTH)


def test_someone_elses_sign_in_in_the_session_does_not_count(world: World) -> None:
    enrol(world.physician)
    plan = signable(world)
    client = signed_in_client(world.physician, minutes_ago=LONG_AGO)
    # Records of another account (a shared workstation's earlier user) are not this signer's.
    session = client.session
    record_sign_in(session, world.other_physician)

    response = client.post(sign_url(plan), {"version": plan.version})

    assert response["Location"].startswith(REAUTH)


def test_a_user_without_a_second_factor_proves_the_password_only(world: World) -> None:
    user = world.physician
    Authenticator.objects.filter(user=user).delete()
    request = RequestFactory().post("/staff/plans/x/sign/")
    client = signed_in_client(user, minutes_ago=LONG_AGO)
    request.session = client.session
    request.user = user
    assert factors_missing(request) == ["password"]
    enrol(user)
    assert factors_missing(request) == ["password", "mfa"]
    record_sign_in(request.session, user)
    assert factors_missing(request) == []
    assert reauthentication_response(request) is None


def test_no_api_operation_can_sign_or_change_safety_settings() -> None:
    # The API reaches none of these actions (its one write scores an instrument): a new write
    # operation must come through re-authentication, and this test makes someone look.
    schema = api.get_openapi_schema()
    writes_ = sorted(
        (path, method)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in {"post", "put", "patch", "delete"}
    )
    assert writes_ == [("/api/v1/instruments/{code}/score", "post")]
