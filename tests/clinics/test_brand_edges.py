"""The brand's public files and settings at their edges: a logo whose file has gone, a clinic
name typed over several lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from ketaclinic.clinics.api import clinic_brand
from tests.clinics.test_brand import BRAND_URL, _form, _png, client_admin
from tests.conftest import World


def test_a_logo_whose_file_has_gone_is_not_found_not_a_server_error(
    world: World, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    logo = SimpleUploadedFile("ours.png", _png())
    assert (
        client_admin(world).post(BRAND_URL, {**_form(world.clinic), "logo": logo}).status_code
        == 302
    )
    world.clinic.refresh_from_db()
    (tmp_path / world.clinic.logo.name).unlink()  # a restore without the media directory
    url = clinic_brand(world.clinic.pk).logo_url
    assert url is not None
    response = Client(raise_request_exception=False).get(url)
    assert response.status_code == 404


def test_a_clinic_name_is_kept_on_one_line(world: World) -> None:
    response = client_admin(world).post(
        BRAND_URL, _form(world.clinic, name="Lakeshore\r\nNerve   Pain\tCentre")
    )
    assert response.status_code == 302
    world.clinic.refresh_from_db()
    assert world.clinic.name == "Lakeshore Nerve Pain Centre"
