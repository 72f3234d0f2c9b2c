"""What the page script of the automatic log-off needs, for its include
(``accounts/_session_timeout.html``)."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest
from django.utils.crypto import salted_hmac

from ketaclinic.accounts.session_timeout import (
    duration_words,
    session_clock,
    session_status_payload,
)

register = template.Library()

# Hidden fields a kept draft may carry: the record's version, so a draft restored over a record
# someone else changed meanwhile is refused as stale instead of overwriting their change. Every
# other hidden field (tokens, keys) is never kept.
DRAFT_HIDDEN_FIELDS = ("version", "based_on_version")


@register.simple_tag(takes_context=True)
def session_timeout_config(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    if not isinstance(request, HttpRequest):
        return {}
    clock = session_clock(request)
    if clock is None:
        return {}
    payload = session_status_payload(request)
    return {
        "remaining_seconds": payload["remaining_seconds"],
        "warning_seconds": payload["warning_seconds"],
        "idle_words": duration_words(clock.idle_limit),
        "absolute_words": duration_words(clock.absolute_limit),
        "absolute_seconds": clock.absolute_limit,
        "draft_hidden_fields": " ".join(DRAFT_HIDDEN_FIELDS),
        # Drafts are kept per browser tab; one signed in as someone else there must not get them.
        # An opaque key, not the user's id.
        "owner": salted_hmac(
            "ketaclinic.session_timeout.draft_owner", str(request.user.pk)
        ).hexdigest()[:20],
    }
