from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from ketaclinic.accounts.models import Role

# (label, url name) per role. Only pages that exist and that the role may open appear here;
# the authorization matrix test checks each link against the role.
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
        ("New bookings", "scheduling:desk_bookings"),
    ],
    Role.NURSE: [
        ("Home", "home"),
        ("Schedule", "scheduling:schedule"),
        ("Chair board", "infusions:board_home"),
        ("Patients", "patients:list"),
        ("New bookings", "scheduling:desk_bookings"),
    ],
    Role.PHYSICIAN: [
        ("Home", "home"),
        ("Schedule", "scheduling:schedule"),
        ("Chair board", "infusions:board_home"),
        ("Patients", "patients:list"),
        ("Boosters", "outcomes:staff_boosters"),
        ("Analytics", "analytics:clinic"),
        ("New bookings", "scheduling:desk_bookings"),
        ("Safety settings", "clinics:policy_proposals"),
    ],
    Role.CLINIC_ADMIN: [
        ("Home", "home"),
        ("Schedule", "scheduling:schedule"),
        ("Chair board", "infusions:board_home"),
        ("Patients", "patients:list"),
        ("New bookings", "scheduling:desk_bookings"),
        ("Clinic", "clinic_overview"),
        ("Settings", "clinics:settings"),
        ("Analytics", "analytics:clinic"),
        ("Availability", "scheduling:admin_availability"),
        ("Audit trail", "audit:events"),
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
    return {
        "nav_items": [
            {"label": label, "url": url, "current": url == current_url} for label, url in items
        ],
        "user_role_label": Role(role).label if role else "",
    }
