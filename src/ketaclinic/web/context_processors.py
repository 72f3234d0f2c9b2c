from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from ketaclinic.accounts.models import Role, User
from ketaclinic.clinics.api import clinic_brand, clinic_brand_of, wear_brand, worn_brand

# (label, url name) per role, labels short so one row fits a laptop's width. Only pages that
# exist and that the role may open appear here; the authorization matrix test checks each link
# against the role.
NAVIGATION: dict[str, list[tuple[str, str]]] = {
    Role.PATIENT: [
        ("Home", "home"),
        ("My appointments", "scheduling:my_appointments"),
        ("My pain diary", "outcomes:my_diary"),
        ("My care plan", "plans:my_plan"),
        ("My details", "my_record"),
    ],
    Role.FRONT_DESK: [
        ("Home", "home"),
        ("Schedule", "scheduling:schedule"),
        ("Chair board", "infusions:board_home"),
        ("Patients", "patients:list"),
        ("Bookings", "scheduling:desk_bookings"),
    ],
    Role.NURSE: [
        ("Home", "home"),
        ("Schedule", "scheduling:schedule"),
        ("Chair board", "infusions:board_home"),
        ("Patients", "patients:list"),
        ("Bookings", "scheduling:desk_bookings"),
    ],
    Role.PHYSICIAN: [
        ("Home", "home"),
        ("Schedule", "scheduling:schedule"),
        ("Chair board", "infusions:board_home"),
        ("Patients", "patients:list"),
        ("Boosters", "outcomes:staff_boosters"),
        ("Analytics", "analytics:clinic"),
        ("Bookings", "scheduling:desk_bookings"),
        ("Safety settings", "clinics:policy_proposals"),
    ],
    Role.CLINIC_ADMIN: [
        ("Home", "home"),
        ("Schedule", "scheduling:schedule"),
        ("Chair board", "infusions:board_home"),
        ("Patients", "patients:list"),
        ("Bookings", "scheduling:desk_bookings"),
        ("Analytics", "analytics:clinic"),
        ("Audit trail", "audit:events"),
        # The clinic's setup (settings, locations, staff, availability) is one hub page, so
        # the navigation fits one row at 1366 px.
        ("Clinic", "clinic_overview"),
    ],
}


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    role = getattr(user, "role", "") if user is not None and user.is_authenticated else ""
    items = [(label, reverse(name)) for label, name in NAVIGATION.get(role, [])]
    current = request.path
    # The current item is the one whose address is the longest prefix of the page's, so that
    # /me/diary/ marks "My pain diary" and not "My details" (/me/).
    home = reverse("home")
    matches = [
        url for _, url in items if current == url or (url != home and current.startswith(url))
    ]
    current_url = max(matches, key=len) if matches else None
    # Staff still to set up their second factor may open only the set-up pages: a count fetched
    # from there would be sent back to set-up by the gate, reloading the page for ever.
    counted = not getattr(request, "mfa_enrolment_required", False)
    return {
        # "Home" carries the count of the home's worklist, fetched after the page loads
        # (``web.views.nav_counts``) so no page pays for it in queries.
        "nav_items": [
            {
                "label": label,
                "url": url,
                "current": url == current_url,
                "counts": counted and url == home,
            }
            for label, url in items
        ],
        "user_role_label": Role(role).label if role else "",
    }


def brand(request: HttpRequest) -> dict[str, Any]:
    """The clinic's brand for the page: the one the view chose (``wear_clinic_brand``), else the
    signed-in user's clinic, else the site's clinic.

    Read from the cache (``clinics/brand.py``), so a page shows it without a query once any page
    has read it; kept on the request for a page rendered more than once."""
    cached = worn_brand(request)
    if cached is None:
        user = getattr(request, "user", None)
        if isinstance(user, User) and user.clinic_id is not None:
            # Most staff pages have loaded the user's clinic already (``signed_in_user``).
            clinic = user.clinic if User.clinic.is_cached(user) else None
            cached = clinic_brand(user.clinic_id) if clinic is None else clinic_brand_of(clinic)
        else:
            cached = clinic_brand()
        wear_brand(request, cached)
    return {"brand": cached}
