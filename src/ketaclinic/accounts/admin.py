"""Second factors in Django's admin (the operators' ``/operator/``), issue 15 item 1.

allauth registers its authenticators with an admin that shows and edits everything: the
authenticator app's secret key in clear, and a form to add one for anyone. An operator could copy
a physician's key, or give them a new one, and sign as them with their password; no audit event
would say so. Here the admin only lists who has which factor and lets an operator remove one (a
clinic's only admin who lost their phone), which is audited as a reset, as a clinic admin's reset
is (``accounts/services.py``). The key is never shown, and nothing is added or edited here.
"""

from __future__ import annotations

from typing import Any

from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from ketaclinic.accounts.auth_events import auth_event_record, signed_in
from ketaclinic.audit.models import Action

SHOWN = ("user", "type", "created_at", "last_used_at")


def _record_removal(request: HttpRequest, authenticators: list[Authenticator]) -> None:
    by_user: dict[int, list[Authenticator]] = {}
    for authenticator in authenticators:
        by_user.setdefault(authenticator.user_id, []).append(authenticator)
    for group in by_user.values():
        auth_event_record(
            request,
            action=Action.MFA_RESET,
            actor=signed_in(request),
            account=group[0].user,
            detail={
                "via": "operator admin",
                "authenticators": [{"id": a.pk, "type": a.type} for a in group],
            },
        )


class AuthenticatorAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = SHOWN
    list_filter = ("type",)
    fields = SHOWN
    readonly_fields = SHOWN

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Authenticator) -> None:
        with transaction.atomic():
            _record_removal(request, [obj])
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Authenticator]) -> None:
        with transaction.atomic():
            _record_removal(request, list(queryset.select_related("user").order_by("pk")))
            super().delete_queryset(request, queryset)


# allauth.mfa (earlier in INSTALLED_APPS) registered its own admin first.
if admin.site.is_registered(Authenticator):
    admin.site.unregister(Authenticator)
admin.site.register(Authenticator, AuthenticatorAdmin)
