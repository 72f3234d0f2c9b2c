"""The audit trail page for clinic admins: filter, page, read. Thin view."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ketaclinic.accounts.api import roles_required
from ketaclinic.accounts.models import Role
from ketaclinic.audit.forms import AuditFilterForm
from ketaclinic.audit.selectors import MAX_PAGE, AuditFilters, audit_event_list
from ketaclinic.audit.services import Actor


@roles_required(Role.CLINIC_ADMIN)
@require_GET
def audit_events(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    filters = AuditFilters()
    if form.is_bound:
        if not form.is_valid():
            return render(
                request, "audit/audit_events.html", {"form": form, "page": None}, status=422
            )
        data = form.cleaned_data
        filters = AuditFilters(
            action=data["action"],
            object_type=data["object_type"],
            actor_email=data["actor"],
            record_number=data["record_number"],
            date_from=data["date_from"],
            date_to=data["date_to"],
        )
    try:
        page_number = int(request.GET.get("page", "1"))
    except ValueError:
        raise Http404("No such page") from None
    if page_number > MAX_PAGE:
        # Past the end of any trail; its offset would not fit the database's integers (a 500).
        raise Http404("No such page")
    page = audit_event_list(actor=Actor.from_request(request), filters=filters, page=page_number)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/audit_events.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )
