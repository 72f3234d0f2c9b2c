"""The clinic's schedule (day and week per location) and induction series: thin views.

The schedule is a CSS grid: providers and chairs as columns, time down the side. Each column's
cells come together in the HTML (column by column), so on a narrow screen the grid falls back to
one list per column without any script.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from ketaclinic.accounts.api import roles_required, signed_in_user
from ketaclinic.accounts.models import User
from ketaclinic.audit.api import Actor
from ketaclinic.clinics.models import Location
from ketaclinic.lib.confirm import Question, ask_first, is_confirmed
from ketaclinic.lib.when import local_text
from ketaclinic.patients.api import patient_search
from ketaclinic.scheduling import selectors, services
from ketaclinic.scheduling.access import SCHEDULERS, access_appointment
from ketaclinic.scheduling.models import (
    Appointment,
    AppointmentStatus,
    InductionSeries,
    SeriesStatus,
)
from ketaclinic.scheduling.slots import SeriesProposal, parse_session_key
from ketaclinic.scheduling.views.common import STAFF, emailed, posted_version, show_refusal

# Minutes per row of the day grid: fine enough to place any booking on a 5-minute grid.
ROW_MIN = 5
DAY_OPENS, DAY_CLOSES = 7, 19
STATUS_ACTIONS = {
    AppointmentStatus.ARRIVED: "Arrived",
    AppointmentStatus.NO_SHOW: "No-show",
    AppointmentStatus.COMPLETED: "Completed",
}


# --- helpers -----------------------------------------------------------------------------------


def _today(location: Location) -> dt.date:
    return timezone.now().astimezone(zoneinfo.ZoneInfo(location.time_zone)).date()


# How far from today the schedule may be opened (a century either way).
FURTHEST_DAY = dt.timedelta(days=36525)


def _parse_date(request: HttpRequest, name: str, default: dt.date) -> dt.date:
    raw = request.GET.get(name, "")
    if not raw:
        return default
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        messages.error(request, f"{name}: {raw[:20]!r} is not a date (YYYY-MM-DD); showing today.")
        return default
    if abs(day - default) > FURTHEST_DAY:
        # A typing error; and at the ends of the calendar the week's arithmetic overflows (a 500).
        messages.error(request, f"{name}: {raw[:20]!r} is too far from today; showing today.")
        return default
    return day


def _parse_time(raw: str) -> dt.time | None:
    try:
        return dt.time.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _pick_location(
    request: HttpRequest, locations: list[Location], value: str | None
) -> Location | None:
    if value:
        chosen = next((loc for loc in locations if str(loc.pk) == value), None)
        if chosen is None:
            messages.error(request, "location: choose one of this clinic's locations.")
        else:
            return chosen
    return locations[0] if locations else None


@dataclass
class _Item:
    appointment: Appointment
    place: str = ""
    actions: list[tuple[str, str]] = field(default_factory=list)
    can_cancel: bool = False
    can_move: bool = False
    # Why "Completed" is not offered (the patient is in a chair: the chart's discharge does it).
    held: str = ""
    # Late in the day the actions open upwards, so the grid's edge never hides them.
    opens_up: bool = False


@dataclass
class _Cell:
    day: dt.date
    place: str
    items: list[_Item]
    url: str = ""


@dataclass
class _Column:
    key: str
    label: str
    kind: str
    detail: str
    place: str
    lane_place: str = ""
    items: list[_Item] = field(default_factory=list)
    cells: list[_Cell] = field(default_factory=list)

    @property
    def has_items(self) -> bool:
        return bool(self.items) or any(cell.items for cell in self.cells)


def _item(appointment: Appointment, now: dt.datetime, user: User, held: dict[int, str]) -> _Item:
    # Its times are drawn in the location's zone by the template (lib/templatetags/when.py).
    item = _Item(appointment=appointment, held=held.get(appointment.pk, ""))
    if user.role in SCHEDULERS:
        allowed = services.STATUS_TRANSITIONS.get(appointment.status, frozenset())
        if item.held:
            allowed = allowed - {AppointmentStatus.COMPLETED}
        item.actions = [(str(s), label) for s, label in STATUS_ACTIONS.items() if s in allowed]
        future = appointment.start > now and appointment.status == AppointmentStatus.BOOKED
        item.can_cancel = future
        item.can_move = future and appointment.series_id is None
    return item


def _place(column: int, row: int, row_end: int | None = None) -> str:
    """The classes that put an element at a grid column and rows (scheduling/schedule-grid.css)."""
    place = f"gc-{column} gr-{row}"
    return place if row_end is None else f"{place} ge-{row_end}"


def _grid(
    schedule: selectors.Schedule, view: str, user: User
) -> tuple[list[_Column], list[tuple[str, str, str]], list[_Item], str]:
    """Columns with their items placed on the grid, the time (or day) labels down the side
    (label, place, link), the cancelled appointments (listed apart: they may overlap live
    ones), and the grid's classes. Places are classes of scheduling/schedule-grid.css, never
    style attributes: the Content-Security-Policy allows no inline style."""
    location = schedule.location
    tz = zoneinfo.ZoneInfo(location.time_zone)
    now = timezone.now()
    held = schedule.completion_held
    columns = [
        _Column(
            key=c.key,
            label=c.label,
            kind=c.kind,
            detail=c.detail,
            place=_place(i + 2, 1),
        )
        for i, c in enumerate(schedule.columns)
    ]
    by_key = {c.key: c for c in columns}
    labels: list[tuple[str, str, str]] = []
    days = [schedule.day_from + dt.timedelta(days=i) for i in range(schedule.days)]
    live = [a for a in schedule.appointments if a.status != AppointmentStatus.CANCELLED]
    cancelled = [
        _item(a, now, user, held)
        for a in schedule.appointments
        if a.status == AppointmentStatus.CANCELLED
    ]

    def homes(appointment: Appointment) -> list[_Column]:
        found = [by_key[f"p{appointment.provider_id}"]]
        if appointment.chair_id is not None:
            found.append(by_key[f"c{appointment.chair_id}"])
        return found

    if view == "week":
        for i, column in enumerate(columns):
            column.cells = [
                _Cell(
                    day=day,
                    place=_place(i + 2, row + 2),
                    items=[],
                    url=_schedule_url(location, day, "day"),
                )
                for row, day in enumerate(days)
            ]
        for appointment in live:
            day = appointment.start.astimezone(tz).date()
            if day not in days:
                continue
            for column in homes(appointment):
                column.cells[days.index(day)].items.append(_item(appointment, now, user, held))
        labels.extend(
            (
                f"{d:%a %d %b}",
                _place(1, r + 2),
                _schedule_url(location, d, "day"),
            )
            for r, d in enumerate(days)
        )
        return columns, labels, cancelled, f"cols-{len(columns)}"

    day = days[0]
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    opens, closes = DAY_OPENS * 60, DAY_CLOSES * 60
    spans: list[tuple[Appointment, int, int]] = []
    for appointment in live:
        ends_at = appointment.block_end if appointment.chair_id else appointment.end
        start_min = (appointment.start.astimezone(tz) - midnight).total_seconds() // 60
        end_min = (ends_at.astimezone(tz) - midnight).total_seconds() // 60
        start_min, end_min = max(0, int(start_min)), min(24 * 60, int(end_min))
        if end_min <= start_min:
            continue
        spans.append((appointment, start_min, end_min))
        opens = min(opens, start_min // 60 * 60)
        closes = max(closes, math.ceil(end_min / 60) * 60)
    rows = (closes - opens) // ROW_MIN
    for i, column in enumerate(columns):
        column.lane_place = _place(i + 2, 2, rows + 2)
    for appointment, start_min, end_min in spans:
        first = (start_min - opens) // ROW_MIN + 2
        last = max(first + 1, math.ceil((end_min - opens) / ROW_MIN) + 2)
        for column in homes(appointment):
            item = _item(appointment, now, user, held)
            col = columns.index(column) + 2
            item.place = _place(col, first, last)
            item.opens_up = first - 2 > rows // 2
            column.items.append(item)
    for hour_min in range(opens, closes, 60):
        row = (hour_min - opens) // ROW_MIN + 2
        label = dt.time(hour_min // 60).strftime("%I %p").lstrip("0")
        labels.append((label, _place(1, row, row + 60 // ROW_MIN), ""))
    return columns, labels, cancelled, f"cols-{len(columns)}"


def _schedule_url(location: Location, day: dt.date, view: str) -> str:
    query = urlencode({"location": location.pk, "date": day.isoformat(), "view": view})
    return f"{reverse('scheduling:schedule')}?{query}"


# --- the schedule ------------------------------------------------------------------------------

# The quick find's text lives in the session, never in a URL (a name or a record number would
# land in the browser history and the access logs): the form posts it, the schedule redirects to
# itself and reads it from here (as the patient list does, patients/views/__init__.py).
FIND_SESSION_KEY = "scheduling.find"
FIND_MAX_LENGTH = 200


@roles_required(*STAFF)
@require_http_methods(["GET", "POST"])
def schedule(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    actor = Actor.from_request(request)
    if request.method == "POST":
        if user.role not in SCHEDULERS:
            raise Http404("No quick find")
        if "clear" in request.POST:
            request.session.pop(FIND_SESSION_KEY, None)
        else:
            request.session[FIND_SESSION_KEY] = request.POST.get("find", "").strip()[
                :FIND_MAX_LENGTH
            ]
        return redirect(f"{_next_url(request)}#book-by-phone")
    locations = selectors.schedule_locations(user=user)
    location = _pick_location(request, locations, request.GET.get("location"))
    if location is None:
        return render(request, "scheduling/schedule.html", {"location": None})
    view = "week" if request.GET.get("view") == "week" else "day"
    today = _today(location)
    day = _parse_date(request, "date", today)
    if view == "week":
        day -= dt.timedelta(days=day.weekday())
    days = 7 if view == "week" else 1
    data = selectors.schedule_read(actor=actor, location=location, day_from=day, days=days)
    columns, labels, cancelled, grid_place = _grid(data, view, user)
    step = dt.timedelta(days=days)
    found = None
    find = str(request.session.get(FIND_SESSION_KEY, "")) if user.role in SCHEDULERS else ""
    if find:
        found = patient_search(actor=actor, query=find, limit=20)
    return render(
        request,
        "scheduling/schedule.html",
        {
            "location": location,
            "locations": locations,
            "view": view,
            "day": day,
            "last_day": day + step - dt.timedelta(days=1),
            "columns": columns,
            "labels": labels,
            "cancelled": cancelled,
            "grid_place": grid_place,
            "count": sum(1 for a in data.appointments if a.status != "cancelled"),
            "here": _schedule_url(location, day, view),
            "prev_url": _schedule_url(location, day - step, view),
            "next_url": _schedule_url(location, day + step, view),
            "today_url": _schedule_url(location, today, view),
            "day_url": _schedule_url(location, day, "day"),
            "week_url": _schedule_url(location, day, "week"),
            "can_book": user.role in SCHEDULERS,
            "find": find,
            "found": found,
        },
    )


# The status changes that end a visit ask first (lib/confirm.py); arrived and completed do not.
ASKS_FIRST = frozenset({"cancel", str(AppointmentStatus.NO_SHOW)})


def _status_question(appointment: Appointment, action: str, back_url: str) -> Question:
    patient = appointment.patient
    when = local_text(appointment.start, appointment.location)
    what = f"{patient.full_name}'s {appointment.type.name} on {when} at {appointment.location.name}"
    if action == "cancel":
        return Question(
            title="Cancel this appointment?",
            consequence=(
                f"This cancels {what}. {emailed(patient)} The freed time is offered to the "
                "waitlist."
            ),
            confirm="Cancel the appointment",
            back_url=back_url,
        )
    return Question(
        title="Mark as no-show?",
        consequence=(
            f"This records that {patient.full_name} did not come to {appointment.type.name} on "
            f"{when}. It stays on the record; nobody is emailed."
        ),
        confirm="Mark as no-show",
        back_url=back_url,
    )


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if target.startswith(reverse("scheduling:schedule")) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("scheduling:schedule")


@roles_required(*SCHEDULERS)
@require_POST
def schedule_appointment_status(request: HttpRequest, public_id: str) -> HttpResponse:
    """Arrived, no-show, completed or cancelled, from the schedule."""
    appointment = access_appointment(signed_in_user(request), public_id, for_write=True)
    actor = Actor.from_request(request)
    action = request.POST.get("action", "")
    version = posted_version(request)
    if action in ASKS_FIRST and not is_confirmed(request):
        # The confirm page names the patient: a read of their record.
        selectors.appointment_read(actor=actor, appointment=appointment)
        return ask_first(request, _status_question(appointment, action, _next_url(request)))
    try:
        if action == "cancel":
            # The desk cancels by phone: the patient's own cut-off does not apply.
            services.appointment_cancel(
                actor=actor, appointment=appointment, expected_version=version, override_cutoff=True
            )
            messages.success(
                request, f"Cancelled {appointment.patient.full_name}'s {appointment.type.name}."
            )
        else:
            changed = services.appointment_status_change(
                actor=actor, appointment=appointment, status=action, expected_version=version
            )
            messages.success(
                request,
                f"{appointment.patient.full_name}: marked {changed.get_status_display().lower()}.",
            )
    except services.SchedulingError as exc:
        show_refusal(request, exc)
    return redirect(_next_url(request))


# --- induction series --------------------------------------------------------------------------


def _proposal_rows(
    proposal: SeriesProposal | None, location: Location
) -> list[tuple[int, dt.datetime, dt.datetime, Any]]:
    if proposal is None:
        return []
    tz = zoneinfo.ZoneInfo(location.time_zone)
    return [
        (n, s.start.astimezone(tz), s.block_end.astimezone(tz), s)
        for n, s in enumerate(proposal.sessions, start=1)
    ]


@roles_required(*SCHEDULERS)
@require_http_methods(["GET", "POST"])
def plan_series(request: HttpRequest, plan_id: str) -> HttpResponse:
    """Propose the first feasible induction series for a signed plan, and book it as one."""
    user = signed_in_user(request)
    actor = Actor.from_request(request)
    plan = selectors.plan_for_series(user, plan_id)
    locations = selectors.schedule_locations(user=user)
    source = request.POST if request.method == "POST" else request.GET
    home = plan.patient.home_location
    default = str(home.pk) if home is not None else None
    location = _pick_location(request, locations, source.get("location") or default)
    if location is None:
        raise Http404("No locations")
    today = _today(location)
    try:
        day_from = max(dt.date.fromisoformat(source.get("from", "") or today.isoformat()), today)
    except ValueError:
        messages.error(request, "from: not a date (YYYY-MM-DD); searching from today.")
        day_from = today
    raw_time = source.get("time", "")
    time_from = _parse_time(raw_time)
    if raw_time and time_from is None:
        messages.error(request, "time: not a time of day (HH:MM); any time is shown.")
    status = 200
    proposal: SeriesProposal | None = None
    proposed = False
    if request.method == "POST":
        keys = request.POST.getlist("session")
        parsed = [parse_session_key(k) for k in keys]
        choices = [p for p in parsed if p is not None]
        if not keys or len(choices) != len(keys):
            messages.error(request, "sessions: the proposal was not understood; here it is again.")
            status = 422
        else:
            try:
                series = services.series_book(
                    actor=actor, plan=plan, location=location, sessions=choices
                )
            except services.SeriesUnavailableError as exc:
                show_refusal(request, exc)
                if exc.proposal is not None:
                    messages.info(request, "Here is the next feasible series.")
                proposal, proposed, status = exc.proposal, True, 409
            except services.SchedulingError as exc:
                show_refusal(request, exc)
                status = 409
            else:
                messages.success(
                    request,
                    f"Booked {series.sessions_count} sessions for {plan.patient.full_name}.",
                )
                return redirect("scheduling:series_detail", public_id=series.public_id)
    page = selectors.series_plan_read(actor=actor, plan=plan)
    if page.refusal is None and not proposed:
        proposal = selectors.series_propose(
            plan=plan, location=location, day_from=day_from, time_from=time_from
        )
    rows = _proposal_rows(proposal, location)
    later = rows[0][1].date() + dt.timedelta(days=1) if rows else None
    return render(
        request,
        "scheduling/plan_series.html",
        {
            "page": page,
            "plan": plan,
            "patient": plan.patient,
            "locations": locations,
            "location": location,
            "from": day_from,
            "time": time_from,
            "proposal": proposal,
            "rows": rows,
            "later": later,
        },
        status=status,
    )


def _series_question(actor: Actor, series: InductionSeries) -> Question:
    now = timezone.now()
    sessions = selectors.series_read(actor=actor, series=series)
    to_come = [a for a in sessions if a.start > now and a.status == AppointmentStatus.BOOKED]
    patient = series.patient
    count = f"{len(to_come)} session{'' if len(to_come) == 1 else 's'}"
    return Question(
        title="Cancel the whole series?",
        consequence=(
            f"This cancels {count} of {patient.full_name}'s induction series at "
            f"{series.location.name}. Sessions already attended stay on record. "
            f"{emailed(patient)}"
        ),
        details=[
            f"{local_text(a.start, series.location)} · {a.chair.name if a.chair else ''}"
            for a in to_come
        ],
        confirm="Cancel the series",
        back_url=reverse("scheduling:series_detail", kwargs={"public_id": series.public_id}),
        back="Keep the series",
    )


@roles_required(*STAFF)
@require_http_methods(["GET", "POST"])
def series_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    user = signed_in_user(request)
    actor = Actor.from_request(request)
    series = selectors.access_series(user, public_id)
    if request.method == "POST":
        if user.role not in SCHEDULERS:
            raise Http404("No such series")
        if not is_confirmed(request):
            return ask_first(request, _series_question(actor, series))
        try:
            services.series_cancel(
                actor=actor, series=series, expected_version=posted_version(request)
            )
        except services.SchedulingError as exc:
            show_refusal(request, exc)
        else:
            messages.success(request, "The series is cancelled. The patient has been emailed.")
        return redirect("scheduling:series_detail", public_id=series.public_id)
    sessions = selectors.series_read(actor=actor, series=series)
    tz = zoneinfo.ZoneInfo(series.location.time_zone)
    first = sessions[0].start.astimezone(tz).date() if sessions else None
    return render(
        request,
        "scheduling/series_detail.html",
        {
            "series": series,
            "sessions": sessions,
            "can_cancel": user.role in SCHEDULERS and series.status == SeriesStatus.BOOKED,
            "schedule_url": _schedule_url(series.location, first, "week") if first else None,
        },
    )
