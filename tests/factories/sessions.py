"""A test client signed in as a real sign-in leaves it: the session, and allauth's records of how
the user proved who they are (the password, then the second factor where enrolled).

Signing pages ask for a recent proof of identity (``ketaclinic.accounts.reauth``): a sign-in
counts for ``ACCOUNT_REAUTHENTICATION_TIMEOUT``. ``force_login`` alone leaves no record, so a
client made with it would be asked to re-authenticate at every signature; a client made here has
the records a real sign-in ``minutes_ago`` would have left, written by allauth's own
``record_authentication``. Nothing about the check is turned off.
"""

from __future__ import annotations

import time

from allauth.account.internal.flows.login import (
    AUTHENTICATION_METHODS_SESSION_KEY,
    record_authentication,
)
from allauth.mfa.models import Authenticator
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.test import Client

from ketaclinic.accounts.models import User


def record_sign_in(session: SessionBase, user: User, *, minutes_ago: float = 0) -> None:
    """Add to ``session`` what allauth records when ``user`` signs in: the password, then the
    code of their authenticator app (or security key) if they have one."""
    request = HttpRequest()
    request.session = session
    record_authentication(request, user, method="password", email=user.email)
    factor = (
        Authenticator.objects.filter(user=user)
        .exclude(type=Authenticator.Type.RECOVERY_CODES)
        .order_by("pk")
        .first()
    )
    if factor is not None:
        record_authentication(request, user, method="mfa", id=factor.pk, type=factor.type)
    if minutes_ago:
        at = time.time() - minutes_ago * 60
        session[AUTHENTICATION_METHODS_SESSION_KEY] = [
            {**record, "at": at} for record in session[AUTHENTICATION_METHODS_SESSION_KEY]
        ]
    session.save()


def signed_in_client(user: User, *, minutes_ago: float = 0) -> Client:
    """A client with ``user`` signed in ``minutes_ago`` (now by default)."""
    client = Client()
    client.force_login(user)
    record_sign_in(client.session, user, minutes_ago=minutes_ago)
    return client
