"""The audit trail page for clinic admins: filter, page, read. Thin view."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from ketaclinic.accounts.api import roles_required
from ketaclinic.accounts.models import Role
from ketaclinic.audit.forms import AuditFilterForm
from ketaclinic.audit.selectors import MAX_PAGE, AuditFilters, AuditRow, audit_event_list
from ketaclinic.audit.services import Actor

# The filters live in the session, never in a URL (a record number names a patient, and would
# land in the browser history and the access logs): the form posts them here and the page
# redirects to itself; only the page number travels in the query string.
FILTERS_SESSION_KEY = "audit.filters"


def _page(request: HttpRequest, form: AuditFilterForm, status: int = 200) -> HttpResponse:
    return render(request, "audit/audit_events.html", {"form": form, "page": None}, status=status)


@roles_required(Role.CLINIC_ADMIN)
@require_http_methods(["GET", "POST"])
def audit_events(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if "clear" in request.POST:
            request.session.pop(FILTERS_SESSION_KEY, None)
            return redirect("audit:events")
        form = AuditFilterForm(request.POST)
        if not form.is_valid():
            # Refused and named on the form; the filters in force stay as they were.
            return _page(request, form, status=422)
        request.session[FILTERS_SESSION_KEY] = {
            name: request.POST.get(name, "") for name in form.fields
        }
        return redirect("audit:events")
    saved = request.session.get(FILTERS_SESSION_KEY)
    form = AuditFilterForm(saved if isinstance(saved, dict) else None)
    filters = AuditFilters()
    if form.is_bound:
        if not form.is_valid():
            # Filters saved before the choices changed: start again rather than fail.
            request.session.pop(FILTERS_SESSION_KEY, None)
            form = AuditFilterForm()
        else:
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
    roles = dict(Role.choices)
    rows = [AuditRow(e, role=str(roles.get(e.actor_role, e.actor_role))) for e in page.events]
    return render(
        request,
        "audit/audit_events.html",
        {"form": form, "page": page, "rows": rows, "filtered": form.is_bound},
    )
