"""Staff reach no page with patient data until they have a second factor; patients may add one;
demo accounts are exempt only on a demo server; no way of getting a session skips the code of an
enrolled user (issue 15 item 1)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.core import mail
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse

from ketaclinic.accounts.models import Role, User
from ketaclinic.devdata.demo import DEMO_PASSWORD, STAFF
from tests import factories
from tests.conftest import World
from tests.factories.accounts import totp_code
from tests.factories.sessions import signed_in_client

STAFF_PERSONAS = ("front_desk", "nurse", "physician", "clinic_admin")
ENROL = "/accounts/2fa/"


def _unenrol(user: User) -> None:
    Authenticator.objects.filter(user=user).delete()


def _patient_pages(world: World) -> list[str]:
    chart = reverse("patients:detail", kwargs={"public_id": world.alice_patient.public_id})
    return [
        "/home/",
        reverse("patients:list"),
        chart,
        reverse("patients:edit", kwargs={"public_id": world.alice_patient.public_id}),
        reverse("scheduling:schedule"),
        reverse("infusions:board_home"),
    ]


@pytest.mark.parametrize("persona", STAFF_PERSONAS)
def test_staff_without_a_second_factor_reach_no_patient_page(world: World, persona: str) -> None:
    user = world.persona(persona)
    assert user is not None
    _unenrol(user)
    client = signed_in_client(user)
    for url in _patient_pages(world):
        response = client.get(url)
        assert (response.status_code, response["Location"]) == (302, ENROL), url
        # A form sent anyway is not run either.
        assert client.post(url, {}).status_code == 302, url
    # An htmx request (a page's poll, a partial) is sent to the same place, by htmx's header.
    polled = client.get(reverse("patients:list"), headers={"HX-Request": "true"})
    assert polled["HX-Redirect"] == ENROL
    # The API answers in JSON and shows nothing.
    api = client.get("/api/v1/openapi.json")
    assert api.status_code == 403
    assert api.json() == {"detail": "Set up two-step sign-in before using the clinic's data."}


def test_the_enrolment_page_explains_why_and_stays_open(world: World) -> None:
    _unenrol(world.nurse)
    client = signed_in_client(world.nurse)
    page = client.get(ENROL)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="mfa-required"' in html
    assert "Clinic staff see patients' health information" in html
    assert "Set up an authenticator app" in html
    assert "Add a security key" in html
    # What it leads to stays open: re-entering the password, the set-up pages, public pages.
    assert client.get("/accounts/reauthenticate/").status_code == 200
    assert client.get("/accounts/2fa/webauthn/add/").status_code in {200, 302}
    assert client.get("/").status_code == 200
    # And signing out.
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/home/")["Location"].startswith("/accounts/login/")


def test_the_set_up_page_asks_for_no_count_and_a_fragment_from_it_is_refused(
    world: World,
) -> None:
    """The navigation's worklist count, fetched from the set-up page, would be sent back to the
    set-up page by the gate and reload it for ever: the page does not ask, and a fragment asked
    for from it anyway is refused without a redirect."""
    _unenrol(world.nurse)
    client = signed_in_client(world.nurse)
    html = client.get(ENROL).content.decode()
    assert reverse("nav_counts") not in html
    from_set_up = client.get(
        reverse("nav_counts"),
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{ENROL}"},
    )
    assert from_set_up.status_code == 403
    assert "HX-Redirect" not in from_set_up
    # From any other page the fragment still sends the browser to set-up.
    elsewhere = client.get(
        reverse("nav_counts"),
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/home/"},
    )
    assert elsewhere["HX-Redirect"] == ENROL


def test_an_enrolled_staff_member_is_not_asked_again(client_for: Any, world: World) -> None:
    page = client_for("nurse").get(ENROL).content.decode()
    assert 'data-testid="mfa-required"' not in page
    assert client_for("nurse").get("/home/").status_code == 200


def test_enrolling_with_a_real_code_unlocks_the_pages(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    _unenrol(world.physician)
    client = signed_in_client(world.physician)
    # allauth asks for the password again before a factor is added.
    assert client.get("/accounts/2fa/totp/activate/")["Location"].startswith(
        "/accounts/reauthenticate/"
    )
    client.post("/accounts/reauthenticate/", {"password": factories.PASSWORD})
    page = client.get("/accounts/2fa/totp/activate/").content.decode()
    secret = factories.accounts.otpauth_secret(page)
    assert "QR code for your authenticator app" in page
    # A wrong code adds nothing.
    wrong = f"{(int(totp_code(secret)) + 1) % 1_000_000:06d}"
    assert client.post("/accounts/2fa/totp/activate/", {"code": wrong}).status_code == 200
    assert not Authenticator.objects.filter(user=world.physician).exists()
    assert client.get("/home/")["Location"] == ENROL
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret)})
    assert response["Location"] == "/accounts/2fa/recovery-codes/"
    codes = client.get("/accounts/2fa/recovery-codes/").content.decode()
    assert 'data-testid="recovery-codes"' in codes
    for url in _patient_pages(world):
        assert client.get(url).status_code == 200, url


def test_patients_are_not_asked_and_may_enrol(client_for: Any, world: World) -> None:
    assert not Authenticator.objects.filter(user=world.alice).exists()
    alice = client_for("alice")
    assert alice.get("/home/").status_code == 200
    assert alice.get(reverse("my_record")).status_code == 200
    page = alice.get(ENROL).content.decode()
    assert "Optional: protect your account" in page
    assert 'data-testid="mfa-required"' not in page


def test_my_details_offers_the_patient_a_second_factor(client_for: Any, world: World) -> None:
    page = client_for("alice").get(reverse("my_record")).content.decode()
    assert f'href="{ENROL}"' in page


@pytest.mark.django_db
def test_demo_staff_need_no_factor_on_a_demo_server_and_get_nothing_elsewhere() -> None:
    call_command("demo", "--no-history", verbosity=0)
    physician = User.objects.get(email=next(s.email for s in STAFF if s.role == Role.PHYSICIAN))
    assert not Authenticator.objects.filter(user=physician).exists()
    client = Client()
    client.post("/accounts/login/", {"login": physician.email, "password": DEMO_PASSWORD})
    assert client.get("/home/").status_code == 200
    with override_settings(DEMO_MODE=False):
        # The session stops (accounts/backends.py), and a new sign-in is refused.
        assert client.get("/home/")["Location"].startswith("/accounts/login/")
        fresh = Client()
        refused = fresh.post(
            "/accounts/login/", {"login": physician.email, "password": DEMO_PASSWORD}
        )
        assert "Demo accounts work only on a demo server" in refused.content.decode()
        assert fresh.get("/home/")["Location"].startswith("/accounts/login/")
        assert fresh.get(ENROL)["Location"].startswith("/accounts/login/")


# --- every way to a session asks an enrolled user for the code ----------------------------------


def test_signing_in_asks_for_the_code_before_any_page(world: World) -> None:
    client = Client()
    response = client.post(
        "/accounts/login/", {"login": world.nurse.email, "password": factories.PASSWORD}
    )
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert client.get("/home/")["Location"].startswith("/accounts/login/")
    refused = client.post("/accounts/2fa/authenticate/", {"code": "000000"})
    assert refused.status_code == 200
    assert "Incorrect code" in refused.content.decode()
    assert client.get("/home/")["Location"].startswith("/accounts/login/")
    code = totp_code()
    assert client.post("/accounts/2fa/authenticate/", {"code": code}).status_code == 302
    assert client.get("/home/").status_code == 200
    # The same code, seen over a shoulder, does not sign anyone else in within its 30 s.
    other = Client()
    other.post("/accounts/login/", {"login": world.nurse.email, "password": factories.PASSWORD})
    assert other.post("/accounts/2fa/authenticate/", {"code": code}).status_code == 200
    assert other.get("/home/")["Location"].startswith("/accounts/login/")


def test_each_recovery_code_signs_in_once(world: World) -> None:
    (first, *_rest) = factories.accounts.recovery_codes(world.physician)
    client = Client()
    client.post(
        "/accounts/login/", {"login": world.physician.email, "password": factories.PASSWORD}
    )
    assert client.post("/accounts/2fa/authenticate/", {"code": first}).status_code == 302
    assert client.get("/home/").status_code == 200
    assert first not in factories.accounts.recovery_codes(world.physician)
    again = Client()
    again.post("/accounts/login/", {"login": world.physician.email, "password": factories.PASSWORD})
    assert again.post("/accounts/2fa/authenticate/", {"code": first}).status_code == 200
    assert again.get("/home/")["Location"].startswith("/accounts/login/")


def test_confirming_an_email_address_does_not_skip_the_code(world: World) -> None:
    # An enrolled staff member whose address is not verified: allauth mails a link and signs in
    # when it is opened (ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION), through the same login stages.
    EmailAddress.objects.filter(user=world.nurse).update(verified=False)
    client = Client()
    client.post("/accounts/login/", {"login": world.nurse.email, "password": factories.PASSWORD})
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+)", str(mail.outbox[-1].body))
    assert link is not None
    response = client.post(link.group(1))
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert client.get("/home/")["Location"].startswith("/accounts/login/")
    assert client.post("/accounts/2fa/authenticate/", {"code": totp_code()}).status_code == 302
    assert client.get("/home/").status_code == 200


def test_the_operator_admin_login_goes_through_allauth(world: World) -> None:
    operator = User.objects.create_superuser("operator@example.test", factories.PASSWORD)
    response = Client().get("/operator/login/")
    assert response["Location"].startswith("/accounts/login/")
    # Its form, posted anyway, signs no one in.
    client = Client()
    client.post("/operator/login/", {"username": operator.email, "password": factories.PASSWORD})
    assert client.get("/operator/").status_code == 302
    assert "_auth_user_id" not in client.session
