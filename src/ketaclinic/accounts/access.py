"""Role gates for views: outside the listed roles a page answers 404, as if it did not exist."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.http import Http404, HttpRequest, HttpResponse

from ketaclinic.accounts.models import Role, User

V = TypeVar("V", bound=Callable[..., HttpResponse])


def roles_required(*roles: Role) -> Callable[[V], V]:
    allowed = frozenset(roles)

    def decorator(view: V) -> V:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
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
