"""What the infusion pages share: the signed-in clinic user, read without a query."""

from __future__ import annotations

from django.http import Http404, HttpRequest

from ketaclinic.accounts.models import User


def clinic_user(request: HttpRequest) -> User:
    """The signed-in user behind ``roles_required``, which is always a clinic user.

    Unlike ``signed_in_user`` this does not load the clinic row, which keeps the polled board at
    its fixed query count.
    """
    user = request.user
    if not isinstance(user, User):
        raise Http404("Page not found")
    return user
