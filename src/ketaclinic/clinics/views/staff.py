"""The clinic admin's staff pages (the team, invitations, roles and locations, deactivation) and
the invitee's join page.

The writes are the accounts app's (users and invitations live there); these pages are the clinic
settings' view of them. The join page is the one page here for someone not signed in.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ketaclinic.accounts import api as accounts_api
from ketaclinic.accounts.api import reauthentication_required, roles_required, signed_in_user
from ketaclinic.audit.api import Actor, client_ip
from ketaclinic.clinics import selectors
from ketaclinic.clinics.forms import InvitationForm, JoinForm, StaffMemberForm
from ketaclinic.clinics.views.common import (
    ADMIN,
    form_page,
    posted_bool,
    run_action,
    saved_from_form,
)
from ketaclinic.lib.confirm import Question, ask_first, is_confirmed
from ketaclinic.lib.views import user_clinic_id


@roles_required(ADMIN)
@require_GET
def staff_list(request: HttpRequest) -> HttpResponse:
    page = selectors.staff_for_admin(
        clinic_id=user_clinic_id(signed_in_user(request)), page=request.GET.get("page", 1)
    )
    return render(
        request,
        "clinics/staff_list.html",
        {"page": page, "me": signed_in_user(request)},
    )


@roles_required(ADMIN)
@require_http_methods(["GET", "POST"])
def staff_invite(request: HttpRequest) -> HttpResponse:
    form = InvitationForm(request.POST or None, clinic_id=user_clinic_id(signed_in_user(request)))
    invitation = saved_from_form(
        request,
        form,
        lambda: accounts_api.staff_invitation_create(
            actor=Actor.from_request(request),
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            location_ids=[loc.pk for loc in form.cleaned_data["locations"]],
        ),
    )
    if invitation is not None:
        messages.success(request, f"Invitation emailed to {invitation.email}.")
        return redirect("clinics:staff")
    return form_page(request, "clinics/staff_invite.html", {"form": form})


@roles_required(ADMIN)
@require_http_methods(["GET", "POST"])
def staff_edit(request: HttpRequest, user_id: int) -> HttpResponse:
    actor = Actor.from_request(request)
    member = accounts_api.access_staff_member(actor, user_id)
    initial = {"role": member.role, "locations": list(member.locations.all())}
    form = StaffMemberForm(
        request.POST or None, initial=initial, clinic_id=user_clinic_id(signed_in_user(request))
    )
    saved = saved_from_form(
        request,
        form,
        lambda: accounts_api.staff_member_update(
            actor=actor,
            user_id=member.pk,
            role=form.cleaned_data["role"],
            location_ids=[loc.pk for loc in form.cleaned_data["locations"]],
        ),
    )
    if saved is not None:
        messages.success(request, f"Saved {member.display_name}.")
        return redirect("clinics:staff")
    return form_page(
        request,
        "clinics/staff_edit.html",
        {
            "form": form,
            "member": member,
            "is_me": member.pk == signed_in_user(request).pk,
            "second_factors": accounts_api.staff_second_factors(member),
        },
    )


@roles_required(ADMIN)
# Removing one's own factor asks for the password (and code) again (allauth); removing a
# colleague's opens their account to whoever knows their password, so it asks as well.
@reauthentication_required
@require_http_methods(["GET", "POST"])
def staff_mfa_reset(request: HttpRequest, user_id: int) -> HttpResponse:
    """Asks first, then removes a colleague's second factors (a lost phone or key)."""
    actor = Actor.from_request(request)
    member = accounts_api.access_staff_member(actor, user_id)
    if request.method == "POST":
        reset = run_action(
            request, lambda: accounts_api.staff_mfa_reset(actor=actor, user_id=member.pk)
        )
        if reset is not None:
            messages.success(
                request,
                f"Second factor reset for {member.display_name}. They will set up a new one "
                "the next time they open a page.",
            )
        return redirect("clinics:staff_edit", user_id=member.pk)
    return render(
        request,
        "clinics/staff_mfa_reset.html",
        {
            "member": member,
            "is_me": member.pk == signed_in_user(request).pk,
            "second_factors": accounts_api.staff_second_factors(member),
        },
    )


@roles_required(ADMIN)
@require_POST
def staff_active(request: HttpRequest, user_id: int) -> HttpResponse:
    is_active = posted_bool(request, "is_active")
    if not is_active and not is_confirmed(request):
        asked = accounts_api.access_staff_member(Actor.from_request(request), user_id)
        return ask_first(
            request,
            Question(
                title=f"Deactivate {asked.display_name}?",
                consequence=(
                    f"{asked.display_name} ({asked.email}) is signed out everywhere and can "
                    "no longer sign in. Their records and audit trail stay; you can reactivate "
                    "them later. Nobody is emailed."
                ),
                confirm=f"Deactivate {asked.display_name}",
                back_url=reverse("clinics:staff_edit", kwargs={"user_id": asked.pk}),
            ),
        )
    member = run_action(
        request,
        lambda: accounts_api.staff_member_set_active(
            actor=Actor.from_request(request), user_id=user_id, is_active=is_active
        ),
    )
    if member is None:
        return redirect("clinics:staff_edit", user_id=user_id)
    verb = "reactivated" if is_active else "deactivated: they can no longer sign in"
    messages.success(request, f"{member.display_name} {verb}.")
    return redirect("clinics:staff")


@roles_required(ADMIN)
@require_POST
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    if not is_confirmed(request):
        clinic_id = user_clinic_id(signed_in_user(request))
        open_invitation = get_object_or_404(
            selectors.staff_invitations_open(clinic_id=clinic_id), pk=invitation_id
        )
        return ask_first(
            request,
            Question(
                title="Withdraw this invitation?",
                consequence=(
                    f"The link emailed to {open_invitation.email} stops working; nobody is "
                    "emailed. You can invite them again at any time."
                ),
                confirm="Withdraw the invitation",
                back_url=reverse("clinics:staff"),
            ),
        )
    invitation = run_action(
        request,
        lambda: accounts_api.staff_invitation_revoke(
            actor=Actor.from_request(request), invitation_id=invitation_id
        ),
    )
    if invitation is not None:
        messages.success(request, f"Invitation to {invitation.email} withdrawn.")
    return redirect("clinics:staff")


@login_not_required
@require_http_methods(["GET", "POST"])
def staff_join(request: HttpRequest, token: str) -> HttpResponse:
    """The invitee's page: choose a name and a password, and the account exists."""
    try:
        invitation = accounts_api.staff_invitation_resolve(token)
    except accounts_api.InvitationError as exc:
        return render(request, "clinics/join_error.html", {"message": str(exc)}, status=400)
    if request.user.is_authenticated:
        # Accepting while signed in as someone else would mix two people's sessions.
        return render(request, "clinics/join_signed_in.html", {"invitation": invitation})
    form = JoinForm(request.POST or None)
    try:
        user = saved_from_form(
            request,
            form,
            lambda: accounts_api.staff_invitation_accept(
                token=token,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password"],
                ip=client_ip(request),
            ),
        )
    except accounts_api.InvitationError as exc:
        # The link was used or withdrawn between opening the page and sending it.
        return render(request, "clinics/join_error.html", {"message": str(exc)}, status=400)
    if user is not None:
        login(request, user, backend="ketaclinic.accounts.backends.ClinicAuthenticationBackend")
        messages.success(request, f"Welcome to {invitation.clinic.name}.")
        return redirect("home")
    return form_page(request, "clinics/join.html", {"form": form, "invitation": invitation})
