"""The audit trail page for clinic admins: filter, page, read. Thin view."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from ketaclinic.accounts.api import roles_required
from ketaclinic.accounts.models import Role
from ketaclinic.audit.cursor import Cursor
from ketaclinic.audit.forms import AuditFilterForm
from ketaclinic.audit.selectors import AuditFilters, AuditPage, AuditRow, audit_event_list
from ketaclinic.audit.services import Actor
from ketaclinic.lib.paging import Pager, PagerLink

# The filters live in the session, never in a URL (a record number names a patient, and would
# land in the browser history and the access logs): the form posts them here and the page
# redirects to itself; only the position in the trail travels in the query string, as an opaque
# cursor of an event's time and id (``audit/cursor.py``), which names no patient.
FILTERS_SESSION_KEY = "audit.filters"
POSITION_PARAM = "at"
OLDEST = "oldest"


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
    cursor, oldest = _position(request)
    page = audit_event_list(
        actor=Actor.from_request(request), filters=filters, cursor=cursor, oldest=oldest
    )
    roles = dict(Role.choices)
    rows = [AuditRow(e, role=str(roles.get(e.actor_role, e.actor_role))) for e in page.events]
    return render(
        request,
        "audit/audit_events.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "filtered": form.is_bound,
            "pager": _pager(page),
            "zone": timezone.get_current_timezone_name(),
        },
    )


def _position(request: HttpRequest) -> tuple[Cursor | None, bool]:
    """Where the reader asked to be: ``?at=<cursor>`` (a link of this page), ``?at=oldest``, or
    the newest page. A cursor that does not read (edited, cut short) shows the newest page with a
    word why, never an error."""
    text = request.GET.get(POSITION_PARAM, "")
    if not text:
        return None, False
    if text == OLDEST:
        return None, True
    cursor = Cursor.decode(text)
    if cursor is None:
        messages.info(request, "That page link could not be read; here are the newest events.")
    return cursor, False


def _link(cursor: Cursor | None = None, *, oldest: bool = False) -> str:
    if oldest:
        return f"?{POSITION_PARAM}={OLDEST}"
    return f"?{POSITION_PARAM}={cursor.encode()}" if cursor is not None else "?"


def _pager(page: AuditPage) -> Pager:
    """Newest, Newer, this page, Older, Oldest; the count above them (capped, see selectors)."""
    if page.count_exact:
        summary = "1 event matches" if page.count == 1 else f"{page.count:,} events match"
    else:
        summary = f"More than {page.count:,} events match"
    if page.ordinal is not None:
        here = f"Page {page.ordinal}"
        if page.pages is not None and page.ordinal <= page.pages:
            here += f" of {page.pages:,}"
    else:  # walked from the oldest end: no number (selectors._ordinal)
        here = (
            "Oldest page"
            if page.older is None
            else "Newest page"
            if page.newer is None
            else "This page"
        )
    if page.past_end:
        return Pager(summary=summary, links=(PagerLink("Newest", _link()),))
    if page.count_exact and page.count <= len(page.events) and page.newest:
        return Pager(summary=summary, links=())
    links: list[PagerLink] = []
    if page.newer is not None:
        if not page.newest and page.ordinal != 2:
            links.append(PagerLink("Newest", _link()))
        # From page 2, "Newer" is the newest page itself: a full page, however many events
        # arrived since.
        newer = _link() if page.ordinal == 2 else _link(page.newer)
        links.append(PagerLink("Newer", newer, rel="prev"))
    links.append(PagerLink(here, current=True))
    if page.older is not None:
        links.append(PagerLink("Older", _link(page.older), rel="next"))
        links.append(PagerLink("Oldest", _link(oldest=True)))
    return Pager(summary=summary, links=tuple(links))
