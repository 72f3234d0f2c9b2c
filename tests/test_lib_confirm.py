"""Ask first (lib/confirm.py): every route that cancels, deactivates, removes or emails someone
shows a confirm page that states the consequence; a POST without ``confirmed=1`` changes nothing,
the confirm page's own form does the change. A new route whose name or path says it ends,
removes or sends something fails here until it is listed (and so tested) or exempted with a
reason."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html import unescape
from typing import Any

import pytest
from django.db import transaction
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from ketaclinic.accounts.models import StaffInvitation, User
from ketaclinic.audit.api import Actor
from ketaclinic.clinics.models import Chair, ProtocolTemplate
from ketaclinic.lib.confirm import carried_fields, is_confirmed
from ketaclinic.scheduling.links import link_issue
from ketaclinic.scheduling.models import (
    Appointment,
    AppointmentType,
    AvailabilityException,
    InductionSeries,
    LinkAction,
    WaitlistEntry,
    WaitlistOffer,
    WeeklyAvailability,
)
from tests import factories
from tests.conftest import World
from tests.factories.scheduling import consultation_appointment, setup_schedule, setup_series
from tests.scheduling.helpers import book_first_series, next_weekday

NY = zoneinfo.ZoneInfo("America/New_York")

# --- the helpers ---------------------------------------------------------------------------------


def test_only_a_post_carrying_confirmed_1_is_confirmed() -> None:
    rf = RequestFactory()
    assert is_confirmed(rf.post("/x/", {"confirmed": "1"}))
    assert not is_confirmed(rf.post("/x/", {"confirmed": "yes"}))
    assert not is_confirmed(rf.post("/x/", {}))
    assert not is_confirmed(rf.get("/x/", {"confirmed": "1"}))


def test_the_confirm_page_posts_every_field_again_but_the_token_and_the_flag() -> None:
    request = RequestFactory().post(
        "/x/",
        {"csrfmiddlewaretoken": "t", "confirmed": "0", "version": "3", "session": ["a", "b"]},
    )
    assert carried_fields(request) == [("version", "3"), ("session", "a"), ("session", "b")]
    assert carried_fields(RequestFactory().get("/x/", {"version": "3"})) == []


# --- the destructive routes ---------------------------------------------------------------------

# Words in a route's name or path that say it ends, removes or sends something.
DESTRUCTIVE = re.compile(
    r"cancel|activ|remove|revoke|withdraw|delete|no.?show|resend|offer|reset|decline|discard|stop"
)

# Routes that act without a confirm step, and why that is right.
EXEMPT = {
    "scheduling:my_waitlist_join": "adds the patient to a waitlist; nothing ends, nothing is sent",
    "clinics:staff_mfa_reset": "its own confirm page (GET) behind re-authentication",
    "clinics:policy_proposal_decline": "a decision with a required written reason, on its page",
    "assessments:consultation_addendum": "adds a signed note ('addendum' matched 'end')",
    "fhir:revoke": "OAuth's token revocation endpoint (RFC 7009): a program revokes its own token",
}


@dataclass
class Case:
    client: Client
    url: str
    data: dict[str, Any]
    # Anything that changes when the action is done (compared before and after).
    state: Callable[[], object]
    consequence: str


def _future_consult(world: World, days: int = 3) -> Appointment:
    sched = setup_schedule(world)
    start = timezone.now().replace(microsecond=0) + dt.timedelta(days=days)
    return consultation_appointment(sched, world.alice_patient, start)


def _status(appointment: Appointment) -> Callable[[], object]:
    return lambda: Appointment.objects.get(pk=appointment.pk).status


def _cancel(world: World, client_for: Any, route: str, **extra: str) -> Case:
    """The desk cancels Alice's consultation in three days from ``route``."""
    a = _future_consult(world)
    return Case(
        client_for("front_desk"),
        reverse(route, kwargs={"public_id": a.public_id}),
        {"action": "cancel", "version": a.version, **extra},
        _status(a),
        "This cancels Alice",
    )


def _schedule_cancel(world: World, client_for: Any) -> Case:
    return _cancel(world, client_for, "scheduling:schedule_appointment_status")


def _desk_cancel(world: World, client_for: Any) -> Case:
    # The appointment's own page: inside the cut-off when the patient asked by phone.
    return _cancel(world, client_for, "scheduling:desk_appointment", override_cutoff="on")


def _schedule_no_show(world: World, client_for: Any) -> Case:
    sched = setup_schedule(world)
    start = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=40)
    a = consultation_appointment(sched, world.alice_patient, start)
    return Case(
        client_for("front_desk"),
        reverse("scheduling:schedule_appointment_status", kwargs={"public_id": a.public_id}),
        {"action": "no_show", "version": a.version},
        _status(a),
        "did not come to New patient consultation",
    )


def _series_cancel(world: World, client_for: Any) -> Case:
    sw = setup_series(world)
    series = book_first_series(sw)
    return Case(
        client_for("front_desk"),
        reverse("scheduling:series_detail", kwargs={"public_id": series.public_id}),
        {"version": series.version},
        lambda: InductionSeries.objects.get(pk=series.pk).status,
        f"This cancels 5 sessions of {world.alice_patient.full_name}'s induction series",
    )


def _portal_cancel(world: World, client_for: Any) -> Case:
    a = _future_consult(world)
    return Case(
        client_for("alice"),
        reverse("scheduling:my_appointment_cancel", kwargs={"public_id": a.public_id}),
        {"version": a.version},
        _status(a),
        "This cancels your New patient consultation",
    )


def _link_cancel(world: World, client_for: Any) -> Case:
    a = _future_consult(world)
    with transaction.atomic():
        token = link_issue(
            action=LinkAction.CANCEL,
            expires_at=timezone.now() + dt.timedelta(days=2),
            appointment=a,
        )
    return Case(
        Client(),
        reverse("scheduling:link_cancel", args=[token]),
        {},
        _status(a),
        "This cancels your New patient consultation",
    )


def _at_noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=NY)


def _link_waitlist(world: World, client_for: Any) -> Case:
    a = consultation_appointment(
        setup_schedule(world), world.alice_patient, _at_noon(next_weekday(0) + dt.timedelta(days=2))
    )
    entry = WaitlistEntry.objects.create(
        clinic=world.clinic,
        patient=world.alice_patient,
        location=a.location,
        type=a.type,
        appointment=a,
    )
    earlier = a.start - dt.timedelta(days=2)
    offer = WaitlistOffer.objects.create(
        entry=entry,
        provider=a.provider,
        location=a.location,
        start=earlier,
        end=earlier + (a.end - a.start),
        block_end=earlier + (a.block_end - a.start),
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    with transaction.atomic():
        token = link_issue(
            action=LinkAction.WAITLIST_ACCEPT, expires_at=offer.expires_at, offer=offer
        )
    return Case(
        Client(),
        reverse("scheduling:link_waitlist", args=[token]),
        {},
        lambda: Appointment.objects.get(pk=a.pk).start,
        "Your appointment will be on",
    )


def _type_deactivate(world: World, client_for: Any) -> Case:
    t = setup_schedule(world).consultation
    data = {
        "name": t.name,
        "kind": t.kind,
        "duration_min": t.duration_min,
        "buffer_min": t.buffer_min,
        "provider_role": t.provider_role,
        "bookable_online": "on",
    }
    return Case(
        client_for("clinic_admin"),
        f"{reverse('scheduling:admin_types')}?edit={t.pk}",
        data,
        lambda: AppointmentType.objects.get(pk=t.pk).is_active,
        "New patient consultation can no longer be booked",
    )


def _hours_remove(world: World, client_for: Any) -> Case:
    setup_schedule(world)
    row = WeeklyAvailability.objects.filter(provider=world.physician).first()
    assert row is not None
    return Case(
        client_for("clinic_admin"),
        reverse("scheduling:admin_availability"),
        {"remove": row.pk},
        lambda: WeeklyAvailability.objects.filter(pk=row.pk).exists(),
        f"Remove {world.physician.display_name}'s",
    )


def _exception_remove(world: World, client_for: Any) -> Case:
    start = timezone.now() + dt.timedelta(days=7)
    row = AvailabilityException.objects.create(
        provider=world.physician,
        location=world.cleveland,
        kind="time_off",
        start=start,
        end=start + dt.timedelta(hours=4),
    )
    return Case(
        client_for("clinic_admin"),
        reverse("scheduling:admin_exceptions"),
        {"remove": row.pk},
        lambda: AvailabilityException.objects.filter(pk=row.pk).exists(),
        f"Remove {world.physician.display_name}'s time off from",
    )


def _chair_deactivate(world: World, client_for: Any) -> Case:
    chair = Chair.objects.filter(location=world.charlotte).first()
    assert chair is not None
    return Case(
        client_for("clinic_admin"),
        reverse("clinics:chair_active", kwargs={"chair_id": chair.pk}),
        {"is_active": "0"},
        lambda: Chair.objects.get(pk=chair.pk).is_active,
        f"will no longer use {chair.name}",
    )


def _protocol_deactivate(world: World, client_for: Any) -> Case:
    template = ProtocolTemplate.objects.filter(clinic=world.clinic, is_active=True).first()
    assert template is not None
    return Case(
        client_for("clinic_admin"),
        reverse("clinics:protocol_active", kwargs={"template_id": template.pk}),
        {"is_active": "0", "version": template.version},
        lambda: ProtocolTemplate.objects.get(pk=template.pk).is_active,
        f"New treatment plans can no longer use {template.name}",
    )


def _staff_deactivate(world: World, client_for: Any) -> Case:
    return Case(
        client_for("clinic_admin"),
        reverse("clinics:staff_active", kwargs={"user_id": world.nurse.pk}),
        {"is_active": "0"},
        lambda: User.objects.get(pk=world.nurse.pk).is_active,
        "can no longer sign in",
    )


def _invitation_revoke(world: World, client_for: Any) -> Case:
    from ketaclinic.accounts import api as accounts_api

    invitation = accounts_api.staff_invitation_create(
        actor=Actor(user=world.clinic_admin),
        email="new.nurse@clinic.test",
        role="nurse",
        location_ids=[world.cleveland.pk],
    )
    return Case(
        client_for("clinic_admin"),
        reverse("clinics:invitation_revoke", kwargs={"invitation_id": invitation.pk}),
        {},
        lambda: StaffInvitation.objects.get(pk=invitation.pk).revoked_at,
        "The link emailed to new.nurse@clinic.test stops working",
    )


def _fhir_client_revoke(world: World, client_for: Any) -> Case:
    from ketaclinic.fhir.models import FhirClient
    from ketaclinic.fhir.services import fhir_client_register

    client, _ = fhir_client_register(
        actor=Actor(user=world.clinic_admin), clinic=world.clinic, name="Export", kind="backend"
    )
    return Case(
        client_for("clinic_admin"),
        reverse("fhir:client_revoke", kwargs={"client_id": client.pk}),
        {},
        lambda: FhirClient.objects.filter(pk=client.pk).exists(),
        "every token it holds stops working at once",
    )


def _fhir_app_disconnect(world: World, client_for: Any) -> Case:
    from oauth2_provider.models import AccessToken

    from tests.fhir.matrix_entries import _alices_app

    client_id = _alices_app(world)["client_id"]
    return Case(
        client_for("alice"),
        reverse("fhir:my_app_disconnect", kwargs={"client_id": client_id}),
        {},
        lambda: AccessToken.objects.filter(user=world.alice).exists(),
        "its access ends at once",
    )


ASKS_FIRST: dict[str, list[Callable[[World, Any], Case]]] = {
    "fhir:client_revoke": [_fhir_client_revoke],
    "fhir:my_app_disconnect": [_fhir_app_disconnect],
    "scheduling:schedule_appointment_status": [_schedule_cancel, _schedule_no_show],
    "scheduling:desk_appointment": [_desk_cancel],
    "scheduling:series_detail": [_series_cancel],
    "scheduling:my_appointment_cancel": [_portal_cancel],
    "scheduling:link_cancel": [_link_cancel],
    "scheduling:link_waitlist": [_link_waitlist],
    "scheduling:admin_types": [_type_deactivate],
    "scheduling:admin_availability": [_hours_remove],
    "scheduling:admin_exceptions": [_exception_remove],
    "clinics:chair_active": [_chair_deactivate],
    "clinics:protocol_active": [_protocol_deactivate],
    "clinics:staff_active": [_staff_deactivate],
    "clinics:invitation_revoke": [_invitation_revoke],
}
CASES = [case for cases in ASKS_FIRST.values() for case in cases]
# Third-party routes (sign-in, second factor, the operator's admin) are theirs, not ours.
THIRD_PARTY = ("account", "mfa", "admin:", "allauth", "socialaccount", "usersessions", "headless")


def _routes(resolver: URLResolver, ns: str = "", prefix: str = "") -> Iterator[tuple[str, str]]:
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = ns + (f"{pattern.namespace}:" if pattern.namespace else "")
            yield from _routes(pattern, inner, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield ns + pattern.name, prefix + str(pattern.pattern)


def test_every_route_that_ends_removes_or_sends_something_asks_first_or_says_why_not() -> None:
    routes = dict(_routes(get_resolver()))
    ours = {name: path for name, path in routes.items() if not name.startswith(THIRD_PARTY)}
    looks_destructive = {n for n, p in ours.items() if DESTRUCTIVE.search(f"{n} {p}")}
    unlisted = looks_destructive - set(ASKS_FIRST) - set(EXEMPT)
    assert unlisted == set(), f"ask first (lib/confirm.py) and list in ASKS_FIRST: {unlisted}"
    # Every listed route still exists (a rename would otherwise leave it untested).
    assert set(ASKS_FIRST) | set(EXEMPT) <= set(ours)
    assert not set(ASKS_FIRST) & set(EXEMPT)


@pytest.mark.parametrize("make", CASES, ids=[c.__name__.lstrip("_") for c in CASES])
def test_a_post_without_confirmation_shows_the_consequence_and_changes_nothing(
    make: Callable[[World, Any], Case], world: World, client_for: Any
) -> None:
    case = make(world, client_for)
    before = case.state()
    response = case.client.post(case.url, case.data)
    assert response.status_code == 200
    html = unescape(response.content.decode())
    assert 'data-testid="confirm-step"' in html
    assert case.consequence in html
    assert '<input type="hidden" name="confirmed" value="1">' in html
    assert case.state() == before
    # The confirm page's form does it: the same fields plus confirmed=1.
    html = html.split('data-testid="confirm-step"', 1)[1]
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', html))
    fields.pop("csrfmiddlewaretoken", None)
    assert fields["confirmed"] == "1"
    for name, value in case.data.items():
        assert fields[name] == str(value)
    action = re.search(r'<form method="post" action="([^"]*)"', html)
    assert action is not None
    done = case.client.post(unescape(action.group(1)), {**case.data, "confirmed": "1"})
    assert done.status_code in (200, 302), unescape(done.content.decode())[-1500:]
    assert case.state() != before


def test_reactivating_needs_no_confirmation(world: World, client_for: Any) -> None:
    chair = Chair.objects.filter(location=world.charlotte).first()
    assert chair is not None
    Chair.objects.filter(pk=chair.pk).update(is_active=False)
    url = reverse("clinics:chair_active", kwargs={"chair_id": chair.pk})
    assert client_for("clinic_admin").post(url, {"is_active": "1"}).status_code == 302
    assert Chair.objects.get(pk=chair.pk).is_active


def test_a_confirm_page_for_another_clinics_chair_is_a_404(world: World, client_for: Any) -> None:
    chair = Chair.objects.filter(location=world.charlotte).first()
    assert chair is not None
    url = reverse("clinics:chair_active", kwargs={"chair_id": chair.pk})
    other = factories.make_user(world.other_clinic, "clinic_admin", name="Olga Other")
    client = Client()
    client.force_login(other)
    # The other clinic's admin (enrolled in TOTP by the factory) is refused before any page.
    assert client.post(url, {"is_active": "0"}).status_code in (302, 404)
    assert Chair.objects.get(pk=chair.pk).is_active
