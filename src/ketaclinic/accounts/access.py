"""Role gates for views: outside the listed roles a page answers 404, as if it did not exist."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase

from ketaclinic.accounts.models import Role, User
from ketaclinic.audit.api import Actor

if TYPE_CHECKING:
    from ketaclinic.clinics.models import Clinic

# Any response: a page, or a file streamed from storage (a progress letter's PDF).
V = TypeVar("V", bound=Callable[..., HttpResponseBase])


def roles_required(*roles: Role) -> Callable[[V], V]:
    allowed = frozenset(roles)

    def decorator(view: V) -> V:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            user = request.user
            if not isinstance(user, User) or user.role not in allowed or user.clinic_id is None:
                raise Http404("Page not found")
            return view(request, *args, **kwargs)

        wrapper.allowed_roles = allowed  # type: ignore[attr-defined]
        return cast(V, wrapper)

    return decorator


def signed_in_user(request: HttpRequest) -> User:
    """The request's user, typed; views behind ``roles_required`` always have one."""
    user = request.user
    if not isinstance(user, User) or user.clinic is None:
        raise Http404("Page not found")
    return user


# --- the same rules for services, which receive an actor rather than a request ---------------


def admin_user(actor: Actor) -> User:
    """The acting clinic admin, or 404."""
    user = actor.user
    if (
        user is None
        or not user.is_active
        or user.role != Role.CLINIC_ADMIN
        or user.clinic_id is None
    ):
        raise Http404("Page not found")
    return user


def physician_user(actor: Actor) -> User:
    """The acting physician (active, of a clinic), or 404."""
    user = actor.user
    if user is None or not user.is_active or user.role != Role.PHYSICIAN or user.clinic_id is None:
        raise Http404("Page not found")
    return user


def admin_clinic(actor: Actor, clinic: Clinic | None = None) -> int:
    """The clinic id the actor administers; 404 if it is not ``clinic``."""
    user = admin_user(actor)
    assert user.clinic_id is not None
    if clinic is not None and clinic.pk != user.clinic_id:
        raise Http404("Page not found")
    return user.clinic_id
