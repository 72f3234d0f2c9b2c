"""A clinic's brand as pages, letters and emails show it: name, logo, colour and how to reach it.

``clinic_brand(clinic_id)`` reads one clinic; ``clinic_brand()`` (no id) reads the site's clinic
for public pages: the clinic named by the ``SITE_CLINIC`` setting (a slug), else the oldest
clinic, else a neutral brand. The brand is kept in Django's cache, one key per clinic (and one
for the site), so a page shows it without a query once it has been read; the brand settings
service deletes both keys when it saves (``brand_cache_forget``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.urls import reverse

from ketaclinic.clinics.models import DEFAULT_BRAND_COLOUR, Clinic
from ketaclinic.lib.email import address_of, sender_address, signature

NEUTRAL_NAME = "Pain clinic"
# A brand changes only through the settings service, which forgets it; the time-out bounds how
# long another web worker can show the old one when the cache is per process (locmem) and how
# long the site's brand takes to follow a newly created first clinic.
CACHE_SECONDS = 300
_KEY = "clinic-brand:v1:{}"


@dataclass(frozen=True)
class ClinicBrand:
    name: str
    logo_url: str | None
    colour: str
    address_lines: tuple[str, ...]
    phone: str
    email: str
    # "Clinic Name <sender@...>", for the From header of every email.
    from_email: str
    site_url: str

    @property
    def colour_hex(self) -> str:
        """The colour without its ``#``, as the brand stylesheet's URL carries it."""
        return self.colour.lstrip("#").lower()

    @property
    def signature(self) -> str:
        """The lines that close every email: name, postal address, phone."""
        return signature(self.name, self.address_lines, self.phone)


def _from_email(name: str, sender: str) -> str:
    return sender_address(name, sender or address_of(settings.DEFAULT_FROM_EMAIL))


def neutral_brand() -> ClinicBrand:
    """The brand of a site with no clinic yet, and of pages that cannot read the database."""
    return ClinicBrand(
        name=NEUTRAL_NAME,
        logo_url=None,
        colour=DEFAULT_BRAND_COLOUR,
        address_lines=(),
        phone="",
        email="",
        from_email=_from_email(NEUTRAL_NAME, ""),
        site_url=settings.SITE_URL,
    )


def clinic_brand_of(clinic: Clinic) -> ClinicBrand:
    logo_url = (
        reverse("clinics:logo", kwargs={"clinic_id": clinic.pk, "version": clinic.brand_version})
        if clinic.logo
        else None
    )
    return ClinicBrand(
        name=clinic.name,
        logo_url=logo_url,
        colour=clinic.brand_colour or DEFAULT_BRAND_COLOUR,
        address_lines=tuple(
            line.strip() for line in clinic.postal_address.splitlines() if line.strip()
        ),
        phone=clinic.phone,
        email=clinic.public_email,
        from_email=_from_email(clinic.name, clinic.sender_email),
        site_url=settings.SITE_URL,
    )


def _site_clinic() -> Clinic | None:
    slug = getattr(settings, "SITE_CLINIC", "")
    if slug:
        # A named clinic that does not exist shows the neutral brand rather than another
        # clinic's.
        return Clinic.objects.filter(slug=slug).first()
    return Clinic.objects.order_by("created_at", "pk").first()


def _cache_key(clinic_id: int | None) -> str:
    if clinic_id is None:
        return _KEY.format(f"site:{getattr(settings, 'SITE_CLINIC', '')}")
    return _KEY.format(clinic_id)


def clinic_brand(clinic_id: int | None = None) -> ClinicBrand:
    """The clinic's brand (``None``: the site's clinic), in one query at most."""
    key = _cache_key(clinic_id)
    cached = cache.get(key)
    if isinstance(cached, ClinicBrand):
        return cached
    clinic = _site_clinic() if clinic_id is None else Clinic.objects.filter(pk=clinic_id).first()
    brand = neutral_brand() if clinic is None else clinic_brand_of(clinic)
    cache.set(key, brand, CACHE_SECONDS)
    return brand


# The attribute a request carries its page's brand on (``web.context_processors.brand``).
_REQUEST_BRAND = "_clinic_brand"


def worn_brand(request: HttpRequest) -> ClinicBrand | None:
    """The brand the request's page wears, once chosen."""
    brand = getattr(request, _REQUEST_BRAND, None)
    return brand if isinstance(brand, ClinicBrand) else None


def wear_brand(request: HttpRequest, brand: ClinicBrand) -> None:
    setattr(request, _REQUEST_BRAND, brand)


def wear_clinic_brand(request: HttpRequest, clinic_id: int) -> None:
    """Dress the page in ``clinic_id``'s brand, whoever is signed in: a page opened from an
    emailed link (cancel, waitlist offer, diary) belongs to that patient's clinic, not to the
    site's clinic that other anonymous pages wear."""
    wear_brand(request, clinic_brand(clinic_id))


def brand_cache_forget(clinic_id: int) -> None:
    """Drop the clinic's cached brand and the site's (which may be the same clinic)."""
    cache.delete_many([_cache_key(clinic_id), _cache_key(None)])
