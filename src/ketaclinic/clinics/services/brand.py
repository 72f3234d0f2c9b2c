"""Writes to a clinic's brand: name, logo, header colour, postal address, phone and emails.

The checks live here, not in the form, so every writer gets them: the colour must be ``#rrggbb``
and dark enough for the header's white text (WCAG AA, 4.5:1), and the logo must be a PNG or JPEG
that Pillow can read, under the size limits. The logo is written through Django's storage API
(the default storage: files under MEDIA_ROOT) and the clinic's cached brand is forgotten once
the change commits (``clinics/brand.py``).

Pillow is imported by the logo check, not with the module: every page imports the services
facade, and only an uploaded logo needs it (docs/benchmarks.md "Web worker memory").
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import IO

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction

from ketaclinic.audit.api import Actor, audit_record
from ketaclinic.audit.models import Action
from ketaclinic.clinics.access import admin_clinic
from ketaclinic.clinics.brand import brand_cache_forget
from ketaclinic.clinics.models import Clinic
from ketaclinic.clinics.services._common import apply_changes, refuse_unknown, strip
from ketaclinic.lib.forms import StaleObjectError
from ketaclinic.lib.locking import lock_row

BRAND_FIELDS = (
    "name",
    "brand_colour",
    "postal_address",
    "phone",
    "public_email",
    "sender_email",
)

LOGO_MAX_BYTES = 512 * 1024
LOGO_MAX_SIDE = 2000  # pixels; bounds the memory a decoded logo can take
# Pillow's format name -> the stored file's extension and the type the logo view answers with.
LOGO_FORMATS = {"PNG": ("png", "image/png"), "JPEG": ("jpg", "image/jpeg")}
MIN_CONTRAST = 4.5  # WCAG 2.x AA for normal text: the header's white text on the colour

_COLOUR = re.compile(r"#[0-9a-f]{6}")


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def contrast_with_white(colour: str) -> float:
    """WCAG 2.x contrast ratio of white text on ``#rrggbb``."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    luminance = 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)
    return 1.05 / (luminance + 0.05)


def colour_checked(value: str) -> str:
    colour = value.strip().lower()
    if not _COLOUR.fullmatch(colour):
        raise ValidationError(
            {"brand_colour": "Enter the colour as # and six hexadecimal digits, e.g. #1b2430."}
        )
    ratio = contrast_with_white(colour)
    if ratio < MIN_CONTRAST:
        raise ValidationError(
            {
                "brand_colour": (
                    f"White text on {colour} has a contrast of {ratio:.1f}:1; it must be at least "
                    f"{MIN_CONTRAST}:1 to be readable (WCAG AA). Choose a darker colour."
                )
            }
        )
    return colour


def logo_checked(upload: IO[bytes]) -> tuple[bytes, str]:
    """The logo's bytes and file extension, once Pillow has read it as a PNG or JPEG."""
    from PIL import Image, UnidentifiedImageError

    content = upload.read(LOGO_MAX_BYTES + 1)
    if len(content) > LOGO_MAX_BYTES:
        raise ValidationError(
            {"logo": f"The logo is larger than {LOGO_MAX_BYTES // 1024} KB. Upload a smaller file."}
        )
    try:
        with Image.open(io.BytesIO(content)) as image:
            image_format = image.format or ""
            width, height = image.size
            if image_format in LOGO_FORMATS and max(width, height) <= LOGO_MAX_SIDE:
                image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError({"logo": "The logo must be a PNG or JPEG image."}) from None
    if image_format not in LOGO_FORMATS:
        raise ValidationError({"logo": "The logo must be a PNG or JPEG image."})
    if max(width, height) > LOGO_MAX_SIDE:
        raise ValidationError(
            {"logo": f"The logo is {width} by {height} pixels; at most {LOGO_MAX_SIDE} on a side."}
        )
    return content, LOGO_FORMATS[image_format][0]


def logo_content_type(name: str) -> str:
    extension = name.rsplit(".", 1)[-1].lower()
    for stored_extension, content_type in LOGO_FORMATS.values():
        if extension == stored_extension:
            return content_type
    return "application/octet-stream"


@transaction.atomic
def clinic_brand_update(
    *,
    actor: Actor,
    based_on_version: int,
    values: Mapping[str, object],
    logo: IO[bytes] | None = None,
    remove_logo: bool = False,
) -> Clinic:
    """Save the brand; refused (nothing written) when the form was opened at another version."""
    refuse_unknown(values, BRAND_FIELDS)
    clinic = lock_row(Clinic.objects.all(), admin_clinic(actor))
    if clinic.brand_version != based_on_version:
        raise StaleObjectError("clinic's brand")
    cleaned = strip(values)
    if isinstance(cleaned.get("name"), str):
        # One line: the name goes into page titles, the From header and the letterhead.
        cleaned["name"] = " ".join(str(cleaned["name"]).split())
    if isinstance(cleaned.get("brand_colour"), str):
        cleaned["brand_colour"] = colour_checked(str(cleaned["brand_colour"]))
    for name in ("public_email", "sender_email"):
        if isinstance(cleaned.get(name), str):
            cleaned[name] = str(cleaned[name]).lower()
    if isinstance(cleaned.get("postal_address"), str):
        cleaned["postal_address"] = "\n".join(
            line.strip() for line in str(cleaned["postal_address"]).splitlines() if line.strip()
        )
    logo_file = logo_checked(logo) if logo is not None else None
    changes = apply_changes(clinic, cleaned)
    clinic.full_clean()

    old_logo = clinic.logo.name
    if logo_file is not None:
        content, extension = logo_file
        # The storage picks a free name; the old file goes once the change has committed.
        clinic.logo.save(f"clinic-{clinic.pk}.{extension}", ContentFile(content), save=False)
    elif remove_logo and old_logo:
        clinic.logo = ""
    if clinic.logo.name != old_logo:
        changes["logo"] = {"old": old_logo or "", "new": clinic.logo.name or ""}
    if not changes:
        return clinic

    clinic.brand_version = based_on_version + 1  # the row is locked: no other writer between
    clinic.save()
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="clinic_brand",
        object_id=clinic.pk,
        clinic=clinic,
        detail={"version": clinic.brand_version, "changes": changes},
    )
    storage = clinic.logo.storage
    if old_logo and old_logo != clinic.logo.name:
        transaction.on_commit(lambda: storage.delete(old_logo))
    # Forgotten now for this request's next read, and again after the commit in case another
    # request cached the old brand in between.
    clinic_id = clinic.pk
    brand_cache_forget(clinic_id)
    transaction.on_commit(lambda: brand_cache_forget(clinic_id))
    return clinic
