"""Authentication events written to the audit trail (issue 15 item 4): sign-in, failed sign-in,
password change and reset, from Django's and allauth's signals.

Sign-out and lock-out are written by the sign-in adapter (``accounts/adapter.py``: see there
why), time-outs by the session time-out middleware, second-factor events in
``accounts/mfa.py``, re-authentication in ``accounts/reauth.py`` and the witness's identity
check in ``accounts/identity.py``.
"""

from __future__ import annotations

from typing import Any

from allauth.account.signals import password_changed, password_reset
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from ketaclinic.accounts.auth_events import account_for_login, auth_event_record, signed_in
from ketaclinic.accounts.models import User
from ketaclinic.audit.models import Action


@receiver(user_logged_in, dispatch_uid="accounts.audit_login")
def audit_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    # Django's signal, so every way a session is made is recorded: allauth's sign-in (after the
    # second factor), the sign-in on email verification, the staff invitation's join page.
    if isinstance(user, User):
        auth_event_record(request, action=Action.LOGIN, actor=user, account=user)


@receiver(user_login_failed, dispatch_uid="accounts.audit_login_failed")
def audit_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # A wrong password typed while already signed in is an identity check (re-authentication
    # before a signature, a waste witness): whoever asked for it audits it as REAUTH_REFUSED.
    if signed_in(request) is not None:
        return
    # What identifies the attempt: the account's id when the typed email belongs to one (so the
    # clinic admin sees attempts on a colleague's account, in that clinic's trail), and nothing
    # for an unknown email. What was typed is never stored: an unknown "email" is often a typo
    # of someone's real address, a patient's address, or a password typed into the wrong box,
    # and the trail keeps events for years. Django has already masked the password.
    account = account_for_login(credentials.get("email", credentials.get("username")))
    auth_event_record(
        request,
        action=Action.LOGIN_REFUSED,
        actor=None,
        account=account,
        detail={"known_account": account is not None},
    )


@receiver(password_changed, dispatch_uid="accounts.audit_password_change")
def audit_password_change(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if isinstance(user, User):
        auth_event_record(request, action=Action.PASSWORD_CHANGE, actor=user, account=user)


@receiver(password_reset, dispatch_uid="accounts.audit_password_reset")
def audit_password_reset(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    # Whoever followed the emailed key is not signed in; the account is both actor and object,
    # as the key proved control of its mailbox.
    if isinstance(user, User):
        auth_event_record(request, action=Action.PASSWORD_RESET, actor=user, account=user)
