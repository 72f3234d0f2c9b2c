"""The second factor: allauth's MFA adapter and the audit events of a user's own enrolment and
removal (issue 15 item 1).

allauth sends its signals once its own transaction has committed (``activate_totp`` and the
recovery-code flows send them ``on_commit``), so each event here is written in a transaction of
its own right after the change, not in the change's. The admin's reset of a colleague's factor is
a service (``accounts/services.py`` ``staff_mfa_reset``) and records its event in its transaction.
"""

from __future__ import annotations

from typing import Any

from allauth.mfa import signals
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest

from ketaclinic.accounts.mfa_gate import FACTOR_TYPES, second_factor_required
from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action

OBJECT_TYPE = "authenticator"


class MFAAdapter(DefaultMFAAdapter):
    """allauth's adapter with the clinic's rule: staff keep at least one second factor."""

    error_messages = {
        **DefaultMFAAdapter.error_messages,
        "cannot_delete_authenticator": (
            "Clinic staff must keep a second factor. Add a security key first, then remove "
            "the authenticator app."
        ),
    }

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        # allauth asks this before switching the authenticator app off. Removing a security key
        # does not ask; a staff member who removes their last one is sent to enrol again by the
        # gate (accounts/mfa_gate.py).
        user = authenticator.user
        if not second_factor_required(user):
            return True
        others = Authenticator.objects.filter(user_id=user.pk, type__in=FACTOR_TYPES).exclude(
            pk=authenticator.pk
        )
        return bool(others.exists())


def _record(
    request: HttpRequest, user: Any, authenticator: Authenticator, action: Action, **detail: Any
) -> None:
    actor = Actor.from_request(request)
    if actor.user is None:
        # Enrolment happens signed in; keep the person even if the request had no session.
        actor = Actor(user=user, ip=actor.ip)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=action,
            object_type=OBJECT_TYPE,
            object_id=authenticator.pk,
            detail={"user": user.pk, "type": authenticator.type, **detail},
        )


@receiver(signals.authenticator_added)
def _on_authenticator_added(
    sender: Any, request: HttpRequest, user: Any, authenticator: Authenticator, **kwargs: Any
) -> None:
    _record(request, user, authenticator, Action.MFA_ENROL)


@receiver(signals.authenticator_removed)
def _on_authenticator_removed(
    sender: Any, request: HttpRequest, user: Any, authenticator: Authenticator, **kwargs: Any
) -> None:
    _record(request, user, authenticator, Action.MFA_REMOVE)


@receiver(signals.authenticator_reset)
def _on_authenticator_reset(
    sender: Any, request: HttpRequest, user: Any, authenticator: Authenticator, **kwargs: Any
) -> None:
    # New recovery codes replace the old ones: a new factor, the old codes stop working.
    _record(request, user, authenticator, Action.MFA_ENROL, regenerated=True)
