"""Users who can sign in: a verified email, the shared test password, and for staff the second
factor the clinic requires (an authenticator app enrolled through allauth's own API, with the
test secret below, so a test computes the code the app would show; and recovery codes)."""

from __future__ import annotations

import re
import time
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from allauth.mfa.utils import decrypt
from django.core.cache import cache
from django.test import Client

from ketaclinic.accounts.models import STAFF_ROLES, Role, User
from ketaclinic.clinics.models import Clinic, Location
from tests.factories.base import PASSWORD, next_number

# The authenticator app's key of every enrolled test user (base32, as an app would scan it).
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def make_user(
    clinic: Clinic | None,
    role: Role | str,
    *,
    email: str | None = None,
    name: str = "",
    locations: tuple[Location, ...] = (),
    mfa: bool | None = None,
    **extra: Any,
) -> User:
    """A user with a verified email. ``mfa`` (default: for staff roles) enrols the authenticator
    app with ``TOTP_SECRET`` and recovery codes; ``mfa=False`` leaves a staff member unenrolled,
    as on their first sign-in."""
    email = email or f"user{next_number()}@example.test"
    user = User.objects.create_user(
        email, PASSWORD, role=role, clinic=clinic, full_name=name or email, **extra
    )
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    if locations:
        user.locations.add(*locations)
    if mfa if mfa is not None else role in STAFF_ROLES:
        enrol_totp(user)
    return user


def enrol_totp(user: User, secret: str = TOTP_SECRET) -> Authenticator:
    """What allauth writes when the user turns the authenticator app on: the app's key, then a
    set of recovery codes."""
    totp = TOTP.activate(user, secret).instance
    RecoveryCodes.activate(user)
    return totp


def totp_code(secret: str = TOTP_SECRET, *, at: float | None = None) -> str:
    """The code the authenticator app shows now (or at ``at``, a Unix time)."""
    counter = int(time.time() if at is None else at) // mfa_settings.TOTP_PERIOD
    return str(format_hotp_value(hotp_value(secret, counter)))


def unused_totp_code(user: User) -> str:
    """The code ``user``'s authenticator app shows (the key they enrolled: ``TOTP_SECRET`` for
    the factories' users, the one the set-up page showed for a user who enrolled in a test),
    waiting for the next one when this one was already used: allauth accepts each code once, so a
    second sign-in within the same half-minute waits, as a person would, for a new code."""
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    secret = decrypt(authenticator.data["secret"])
    period = mfa_settings.TOTP_PERIOD
    # The next step's code is accepted too (MFA_TOTP_TOLERANCE), and stays valid if the minute
    # turns before it is typed, so a second sign-in takes it before waiting for a new one.
    steps = (0, 1) if mfa_settings.TOTP_TOLERANCE >= 1 else (0,)
    while True:
        now = time.time()
        for step in steps:
            code = totp_code(secret, at=now + step * period)
            if cache.get(TOTP(authenticator)._get_used_cache_key(code)) is None:
                return code
        time.sleep(period - time.time() % period + 0.05)


def recovery_codes(user: User) -> list[str]:
    """The user's unused recovery codes, as the recovery-codes page shows them."""
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    return list(authenticator.wrap().get_unused_codes())


MFA_AUTHENTICATE_URL = "/accounts/2fa/authenticate/"


def client_sign_in(client: Client, user: User, password: str = PASSWORD) -> Any:
    """Sign in through allauth's forms, as a browser would: the password, then the app's code
    when allauth asks for it. Returns the last response."""
    response = client.post("/accounts/login/", {"login": user.email, "password": password})
    if response.status_code == 302 and response["Location"] == MFA_AUTHENTICATE_URL:
        response = client.post(MFA_AUTHENTICATE_URL, {"code": unused_totp_code(user)})
    return response


def otpauth_secret(html: str) -> str:
    """The key shown on the "set up an authenticator app" page, as a person would type it."""
    found = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', html)
    assert found, "the set-up page shows no key"
    return found.group(1)
