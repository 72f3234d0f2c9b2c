"""Users who can sign in: a verified email and the shared test password."""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress

from ketaclinic.accounts.models import Role, User
from ketaclinic.clinics.models import Clinic, Location
from tests.factories.base import PASSWORD, next_number


def make_user(
    clinic: Clinic | None,
    role: Role | str,
    *,
    email: str | None = None,
    name: str = "",
    locations: tuple[Location, ...] = (),
    **extra: Any,
) -> User:
    email = email or f"user{next_number()}@example.test"
    user = User.objects.create_user(
        email, PASSWORD, role=role, clinic=clinic, full_name=name or email, **extra
    )
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    if locations:
        user.locations.add(*locations)
    return user
