"""The clinic's brand: its settings page, where pages and emails show it, and its cache."""

from __future__ import annotations

import copy
import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from ketaclinic.audit.models import AuditEvent
from ketaclinic.clinics.api import ClinicBrand, clinic_brand
from ketaclinic.clinics.models import DEFAULT_BRAND_COLOUR, Clinic
from ketaclinic.clinics.services.brand import LOGO_MAX_BYTES, contrast_with_white
from ketaclinic.outcomes.boosters.emails import send_booster_offer
from ketaclinic.outcomes.diary.emails import send_diary_reminder
from ketaclinic.scheduling import emails as scheduling_emails
from tests.conftest import World
from tests.factories.outcomes import suggestion_for
from tests.factories.scheduling import consultation_appointment, setup_schedule
from tests.factories.sessions import signed_in_client

BRAND_URL = "/clinic/settings/brand/"
ADDRESS = "1 Lakeshore Drive\nSuite 200\nCleveland, OH 44114"


def _png(size: tuple[int, int] = (40, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (11, 92, 173)).save(buffer, format="PNG")
    return buffer.getvalue()


def _form(clinic: Clinic, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "based_on_version": clinic.brand_version,
        "name": "Lakeshore Nerve Pain Centre",
        "brand_colour": "#0b5cad",
        "postal_address": ADDRESS,
        "phone": "+1 216 555 0100",
        "public_email": "Hello@Lakeshore.test",
        "sender_email": "appointments@lakeshore.test",
    }
    values.update(changes)
    return values


def _brand_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type="clinic_brand"))


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _branded(world: World) -> Clinic:
    """The world's clinic with its brand saved through the settings page."""
    response = client_admin(world).post(BRAND_URL, _form(world.clinic))
    assert response.status_code == 302, response.content.decode()
    world.clinic.refresh_from_db()
    return world.clinic


def client_admin(world: World) -> Client:
    return signed_in_client(world.clinic_admin)


# --- the brand as others read it -------------------------------------------------------------


def test_a_clinic_without_settings_has_its_name_and_the_servers_sender(world: World) -> None:
    brand = clinic_brand(world.clinic.pk)
    assert brand == ClinicBrand(
        name=world.clinic.name,
        logo_url=None,
        colour=DEFAULT_BRAND_COLOUR,
        address_lines=(),
        phone="",
        email="",
        from_email=f"{world.clinic.name} <no-reply@ketaclinic.localhost>",
        site_url="http://127.0.0.1:8000",
    )


def test_the_brand_is_read_once_then_served_from_the_cache(
    world: World, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        first = clinic_brand(world.clinic.pk)
    with django_assert_num_queries(0):
        assert clinic_brand(world.clinic.pk) == first


def test_public_pages_show_the_oldest_clinic_unless_the_site_clinic_is_set(
    world: World, settings: Any
) -> None:
    assert clinic_brand().name == world.clinic.name
    settings.SITE_CLINIC = world.other_clinic.slug
    assert clinic_brand().name == world.other_clinic.name
    settings.SITE_CLINIC = "no-such-clinic"
    assert clinic_brand().name == "Pain clinic"


def test_a_site_without_any_clinic_shows_a_neutral_brand(db: None) -> None:
    brand = clinic_brand()
    assert (brand.name, brand.logo_url, brand.colour) == ("Pain clinic", None, "#1b2430")
    assert brand.from_email == "Pain clinic <no-reply@ketaclinic.localhost>"


# --- the settings page -----------------------------------------------------------------------


def test_an_admin_saves_the_brand_with_one_audit_event(world: World) -> None:
    clinic_brand(world.clinic.pk)  # cached before the change: the save must forget it
    clinic = _branded(world)
    assert (clinic.name, clinic.brand_colour, clinic.brand_version) == (
        "Lakeshore Nerve Pain Centre",
        "#0b5cad",
        2,
    )
    assert clinic.postal_address == ADDRESS
    assert clinic.public_email == "hello@lakeshore.test"
    (event,) = _brand_events()
    assert (event.action, event.actor_id, event.clinic_id) == (
        "update",
        world.clinic_admin.pk,
        world.clinic.pk,
    )
    assert event.detail["changes"]["brand_colour"] == {"old": "#1b2430", "new": "#0b5cad"}
    brand = clinic_brand(world.clinic.pk)
    assert brand.name == "Lakeshore Nerve Pain Centre"
    assert brand.address_lines == ("1 Lakeshore Drive", "Suite 200", "Cleveland, OH 44114")
    assert brand.from_email == "Lakeshore Nerve Pain Centre <appointments@lakeshore.test>"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"brand_colour": "#ffff00"}, "White text on #ffff00 has a contrast of 1.1:1"),
        ({"brand_colour": "blue"}, "Enter the colour as # and six hexadecimal digits"),
        ({"name": ""}, "This field is required."),
        ({"sender_email": "not an address"}, "Enter a valid email address."),
        ({"based_on_version": 7}, "changed by someone else after you opened it"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_changes(
    world: World, changes: dict[str, Any], message: str
) -> None:
    response = client_admin(world).post(BRAND_URL, _form(world.clinic, **changes))
    assert response.status_code == 422
    assert message in response.content.decode()
    before = world.clinic.name
    world.clinic.refresh_from_db()
    assert (world.clinic.name, world.clinic.brand_colour, world.clinic.brand_version) == (
        before,
        DEFAULT_BRAND_COLOUR,
        1,
    )
    assert _brand_events() == []


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (
            SimpleUploadedFile("logo.png", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            "The logo must be a PNG or JPEG image.",
        ),
        (
            SimpleUploadedFile("logo.png", b"\x89PNG" + b"0" * LOGO_MAX_BYTES),
            "The logo is larger than 512 KB.",
        ),
        (SimpleUploadedFile("logo.png", _png((2400, 10))), "at most 2000 on a side"),
    ],
    ids=["not-an-image", "too-large", "too-wide"],
)
def test_a_bad_logo_is_refused_and_nothing_is_stored(
    world: World, media: Path, upload: SimpleUploadedFile, message: str
) -> None:
    response = client_admin(world).post(BRAND_URL, {**_form(world.clinic), "logo": upload})
    assert response.status_code == 422
    assert message in response.content.decode()
    world.clinic.refresh_from_db()
    assert (world.clinic.logo.name, world.clinic.brand_version) == ("", 1)
    assert list(media.rglob("*")) == []
    assert _brand_events() == []


def test_the_logo_is_stored_and_served_from_storage_by_its_version(
    world: World, media: Path
) -> None:
    logo = SimpleUploadedFile("ours.png", _png())
    response = client_admin(world).post(BRAND_URL, {**_form(world.clinic), "logo": logo})
    assert response.status_code == 302
    world.clinic.refresh_from_db()
    assert world.clinic.logo.name.startswith("clinic-logos/clinic-")
    assert (media / world.clinic.logo.name).read_bytes() == _png()
    url = clinic_brand(world.clinic.pk).logo_url
    assert url == f"/brand/logo/{world.clinic.pk}/2/"
    served = Client().get(url)
    assert (served.status_code, served["Content-Type"]) == (200, "image/png")
    assert served.content == _png()
    assert "immutable" in served["Cache-Control"]
    # An older version's address no longer serves anything.
    assert Client().get(f"/brand/logo/{world.clinic.pk}/1/").status_code == 404
    landing = Client().get("/").content.decode()
    assert f'<img class="brand-logo" src="{url}"' in landing


def test_the_contrast_check_matches_wcag() -> None:
    assert round(contrast_with_white("#000000"), 1) == 21.0
    assert round(contrast_with_white("#767676"), 2) == 4.54  # the lightest AA grey on white
    assert contrast_with_white("#777777") < 4.5


# --- pages ----------------------------------------------------------------------------------


def test_the_landing_page_wears_the_site_clinics_brand(world: World) -> None:
    _branded(world)
    page = Client().get("/").content.decode()
    assert "· Lakeshore Nerve Pain Centre</title>" in page
    assert '<span class="brand-name">Lakeshore Nerve Pain Centre</span>' in page
    assert '<link rel="stylesheet" href="/brand/0b5cad.css">' in page
    assert "1 Lakeshore Drive · Suite 200 · Cleveland, OH 44114" in page
    assert "Powered by ketaclinic" in page
    # The product's name appears nowhere else a visitor reads (static paths aside).
    assert page.replace("/static/ketaclinic/", "").count("ketaclinic") == 1
    css = Client().get("/brand/0b5cad.css")
    assert css["Content-Type"] == "text/css"
    assert css.content.decode() == ":root { --brand: #0b5cad; }\n"


def test_signed_in_pages_wear_the_users_clinics_brand(world: World) -> None:
    page = signed_in_client(world.other_physician)
    html = page.get("/home/").content.decode()
    assert f"· {world.other_clinic.name}</title>" in html
    assert f'<span class="brand-name">{world.other_clinic.name}</span>' in html


@pytest.mark.parametrize(("persona", "path"), [("alice", "/me/appointments/"), ("anonymous", "/")])
def test_the_brand_adds_no_query_to_a_warm_page(
    world: World, client_for: Any, settings: Any, persona: str, path: str
) -> None:
    def queries() -> int:
        client = client_for(persona)
        client.get(path)
        with CaptureQueriesContext(connection) as context:
            assert client.get(path).status_code == 200
        return len(context.captured_queries)

    with_brand = queries()
    templates = copy.deepcopy(settings.TEMPLATES)
    processors = templates[0]["OPTIONS"]["context_processors"]
    processors.remove("ketaclinic.web.context_processors.brand")
    settings.TEMPLATES = templates
    assert with_brand == queries()


# --- emails ---------------------------------------------------------------------------------


def _assert_from_the_clinic(message: Any) -> None:
    assert message.from_email == "Lakeshore Nerve Pain Centre <appointments@lakeshore.test>"
    assert "ketaclinic" not in message.subject.lower()
    assert message.body.rstrip().endswith(
        "-- \nLakeshore Nerve Pain Centre\n1 Lakeshore Drive\nSuite 200\nCleveland, OH 44114\n"
        "Phone: +1 216 555 0100"
    )


def test_appointment_emails_come_from_the_clinic(world: World) -> None:
    _branded(world)
    sched = setup_schedule(world)
    start = dt.datetime(2030, 3, 4, 15, 0, tzinfo=dt.UTC)
    appointment = consultation_appointment(sched, world.alice_patient, start)
    mail.outbox.clear()
    scheduling_emails.send_confirmation(
        appointment, reschedule_token="r-token", cancel_token="c-token", moved=False
    )
    (message,) = mail.outbox
    _assert_from_the_clinic(message)
    assert message.subject == "Your appointment is booked"
    assert "http://127.0.0.1:8000/a/r-token/reschedule/" in message.body
    ics = message.attachments[0].get_payload(decode=True).decode().replace("\r\n ", "")
    assert 'ORGANIZER;CN="Lakeshore Nerve Pain Centre":mailto:appointments@lakeshore.test' in ics


def test_diary_and_booster_emails_come_from_the_clinic(world: World) -> None:
    _branded(world)
    suggestion = suggestion_for(world, approved=True)
    mail.outbox.clear()
    send_diary_reminder(world.alice_patient, day=dt.date(2030, 3, 4), tokens=[("nrs", "d-token")])
    send_booster_offer(suggestion.pk)
    assert [m.subject for m in mail.outbox] == [
        "Your pain diary for today",
        "Your physician offers a booster appointment",
    ]
    for message in mail.outbox:
        _assert_from_the_clinic(message)
        assert "http://127.0.0.1:8000/" in message.body


def test_a_staff_invitation_comes_from_the_clinic(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    _branded(world)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_admin(world).post(
            "/clinic/staff/invite/",
            {"email": "new.nurse@example.test", "role": "nurse", "locations": [world.cleveland.pk]},
        )
    assert response.status_code == 302
    (message,) = mail.outbox
    _assert_from_the_clinic(message)
    assert message.subject == "Join the team at Lakeshore Nerve Pain Centre"
    assert "http://127.0.0.1:8000/clinic/staff/join/" in message.body


def test_account_emails_name_the_clinic_and_link_to_site_url(world: World) -> None:
    _branded(world)
    mail.outbox.clear()
    client = Client(HTTP_HOST="localhost")
    client.post(reverse("account_reset_password"), {"email": world.alice.email})
    client.post(reverse("account_reset_password"), {"email": "nobody@example.test"})
    reset, unknown = mail.outbox
    for message in (reset, unknown):
        _assert_from_the_clinic(message)
        assert "Hello from" not in message.body
        assert "Thank you for using" not in message.body
        assert "localhost" not in message.body
    assert (reset.subject, unknown.subject) == (
        "Reset your password",
        "No account with this address",
    )
    assert "http://127.0.0.1:8000/accounts/password/reset/key/" in reset.body
    assert "book your first visit online:\n\nhttp://127.0.0.1:8000/book/" in unknown.body


# --- sign-in text ---------------------------------------------------------------------------


def test_the_sign_in_page_sends_new_patients_to_booking(db: None) -> None:
    page = Client().get(reverse("account_login")).content.decode()
    assert 'New patient? <a href="/book/">Book your first visit</a>' in page
    assert "sign up" not in page.lower()


def test_a_visitor_finishing_a_booking_is_offered_the_account_step(db: None) -> None:
    page = Client().get(reverse("account_login") + "?next=/book/confirm/").content.decode()
    assert 'New patient? <a href="/accounts/signup/?next=%2Fbook%2Fconfirm%2F">' in page


# --- make run and serve: links at the port served -------------------------------------------


def test_make_run_points_site_url_at_its_port() -> None:
    import subprocess

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        ["make", "-n", "run", "PORT=8201"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(root)},
    )
    (serve,) = [line for line in result.stdout.splitlines() if "manage serve" in line]
    assert serve.startswith('SITE_URL="${SITE_URL:-http://127.0.0.1:8201}" ')
    assert serve.endswith("serve --port 8201")


def test_serve_gives_its_processes_a_site_url_for_its_port() -> None:
    from ketaclinic.web.management.commands.serve import server_environment

    assert server_environment({}, host="127.0.0.1", port=8201)["SITE_URL"] == (
        "http://127.0.0.1:8201"
    )
    assert server_environment({}, host="0.0.0.0", port=9000)["SITE_URL"] == (  # noqa: S104
        "http://127.0.0.1:9000"
    )
    kept = {"SITE_URL": "https://clinic.example"}
    assert server_environment(kept, host="127.0.0.1", port=8201)["SITE_URL"] == (
        "https://clinic.example"
    )
