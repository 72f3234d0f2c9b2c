"""Clinic settings for clinic admins: locations and chairs, staff and invitations, protocol
templates and the safety settings. Thin views: parse, authorize, call a service or selector,
render. Every page is gated to clinic admins (404 for anyone else); the services check again.
The exception: proposed changes to the safety settings, which physicians see and decide on
(gate 9), and clinic admins see."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ketaclinic.accounts import services as account_services
from ketaclinic.accounts.access import roles_required, signed_in_user
from ketaclinic.accounts.models import Role
from ketaclinic.audit.services import Actor, client_ip
from ketaclinic.clinics import selectors, services
from ketaclinic.clinics.access import access_chair, access_location, access_protocol_template
from ketaclinic.clinics.forms import (
    ChairForm,
    ClinicPolicyForm,
    InvitationForm,
    JoinForm,
    LocationForm,
    ProtocolTemplateForm,
    StaffMemberForm,
    time_zone_names,
)
from ketaclinic.clinics.models import ClinicPolicy
from ketaclinic.clinics.services import LOCATION_FIELDS, TEMPLATE_FIELDS
from ketaclinic.lib.views import errors_onto_form, user_clinic_id

ADMIN = Role.CLINIC_ADMIN
PHYSICIAN = Role.PHYSICIAN


def _flash_errors(request: HttpRequest, exc: ValidationError, labels: dict[str, str]) -> None:
    """A refusal of a one-button action, shown on the page it returns to, field named."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            prefix = f"{labels.get(field, field)}: " if field != NON_FIELD_ERRORS else ""
            for error in errors:
                messages.error(request, f"{prefix}{error}")
    else:
        for error in exc.messages:
            messages.error(request, error)


def _posted_bool(request: HttpRequest, name: str) -> bool:
    return request.POST.get(name) == "1"


def _posted_int(request: HttpRequest, name: str) -> int | None:
    value = request.POST.get(name, "")
    return int(value) if value.isdigit() else None


# --- settings hub -----------------------------------------------------------------------------


@roles_required(ADMIN)
@require_GET
def settings_index(request: HttpRequest) -> HttpResponse:
    policy = selectors.clinic_policy_current(clinic_id=user_clinic_id(signed_in_user(request)))
    return render(request, "clinics/settings_index.html", {"policy": policy})


# --- safety settings --------------------------------------------------------------------------


@roles_required(ADMIN)
@require_GET
def policy_detail(request: HttpRequest) -> HttpResponse:
    clinic_id = user_clinic_id(signed_in_user(request))
    policy = selectors.clinic_policy_for_page(clinic_id=clinic_id)
    return render(
        request,
        "clinics/policy_detail.html",
        {
            "policy": policy,
            "sections": selectors.clinic_policy_sections(policy),
            "pending": selectors.policy_proposals_pending(clinic_id=clinic_id, current=policy),
        },
    )


@roles_required(ADMIN)
@require_http_methods(["GET", "POST"])
def policy_edit(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    assert user.clinic is not None
    policy = selectors.clinic_policy_current(clinic_id=user.clinic.pk)
    form = ClinicPolicyForm(request.POST or None, policy=policy)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.clinic_policy_change(
                actor=Actor.from_request(request),
                clinic=user.clinic,
                values=form.values(),
                based_on_version=form.cleaned_data["based_on_version"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            errors_onto_form(form, exc)
        else:
            if isinstance(saved, ClinicPolicy):
                messages.success(request, f"Saved as version {saved.version}.")
            else:
                messages.info(
                    request,
                    "Proposed: the change takes effect when a second physician approves it. "
                    f"Version {policy.version} stays in force until then.",
                )
            return redirect("clinics:policy")
    status = 422 if request.method == "POST" else 200
    return render(
        request, "clinics/policy_edit.html", {"form": form, "policy": policy}, status=status
    )


@roles_required(ADMIN)
@require_GET
def policy_history(request: HttpRequest) -> HttpResponse:
    history = selectors.clinic_policy_history(clinic_id=user_clinic_id(signed_in_user(request)))
    return render(request, "clinics/policy_history.html", {"history": history})


@roles_required(PHYSICIAN, ADMIN)
@require_GET
def policy_proposals(request: HttpRequest) -> HttpResponse:
    """Proposed changes to the safety settings: physicians approve or decline them, the clinic
    admin follows them."""
    user = signed_in_user(request)
    clinic_id = user_clinic_id(signed_in_user(request))
    policy = selectors.clinic_policy_current(clinic_id=clinic_id)
    return render(
        request,
        "clinics/policy_proposals.html",
        {
            "policy": policy,
            "pending": selectors.policy_proposals_pending(clinic_id=clinic_id, current=policy),
            "decided": selectors.policy_proposals_decided(clinic_id=clinic_id, current=policy),
            "may_decide": user.role == PHYSICIAN,
            "me": user,
        },
    )


PROPOSAL_LABELS = {"proposal": "Proposed change", "reason": "Reason for declining"}


@roles_required(PHYSICIAN)
@require_POST
def policy_proposal_approve(request: HttpRequest, proposal_id: int) -> HttpResponse:
    try:
        policy = services.policy_proposal_approve(
            actor=Actor.from_request(request),
            proposal_id=proposal_id,
            note=request.POST.get("note", ""),
        )
    except ValidationError as exc:
        _flash_errors(request, exc, PROPOSAL_LABELS)
    else:
        messages.success(request, f"Approved: version {policy.version} is in force.")
    return redirect("clinics:policy_proposals")


@roles_required(PHYSICIAN)
@require_POST
def policy_proposal_decline(request: HttpRequest, proposal_id: int) -> HttpResponse:
    try:
        services.policy_proposal_decline(
            actor=Actor.from_request(request),
            proposal_id=proposal_id,
            reason=request.POST.get("reason", ""),
        )
    except ValidationError as exc:
        _flash_errors(request, exc, PROPOSAL_LABELS)
    else:
        messages.success(request, "Declined: the settings stay as they are.")
    return redirect("clinics:policy_proposals")


# --- locations and chairs ---------------------------------------------------------------------


@roles_required(ADMIN)
@require_GET
def location_list(request: HttpRequest) -> HttpResponse:
    locations = selectors.locations_for_admin(clinic_id=user_clinic_id(signed_in_user(request)))
    return render(request, "clinics/location_list.html", {"locations": locations})


@roles_required(ADMIN)
@require_http_methods(["GET", "POST"])
def location_new(request: HttpRequest) -> HttpResponse:
    form = LocationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            location = services.location_create(
                actor=Actor.from_request(request),
                values={name: form.cleaned_data[name] for name in LOCATION_FIELDS},
            )
        except ValidationError as exc:
            errors_onto_form(form, exc)
        else:
            messages.success(request, f"Added {location.name}. Now add its chairs.")
            return redirect("clinics:location_edit", location_id=location.pk)
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "clinics/location_form.html",
        {"form": form, "location": None, "time_zones": time_zone_names()},
        status=status,
    )


@roles_required(ADMIN)
@require_http_methods(["GET", "POST"])
def location_edit(request: HttpRequest, location_id: int) -> HttpResponse:
    actor = Actor.from_request(request)
    location = access_location(actor, location_id)
    form = LocationForm(
        request.POST or None, instance=location if request.method == "GET" else None
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.location_update(
                actor=actor,
                location_id=location.pk,
                values={name: form.cleaned_data[name] for name in LOCATION_FIELDS},
            )
        except ValidationError as exc:
            errors_onto_form(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("clinics:location_edit", location_id=location.pk)
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "clinics/location_form.html",
        {
            "form": form,
            "location": location,
            "chairs": selectors.location_chairs(location=location),
            "chair_form": ChairForm(),
            "time_zones": time_zone_names(),
        },
        status=status,
    )


@roles_required(ADMIN)
@require_POST
def chair_add(request: HttpRequest, location_id: int) -> HttpResponse:
    actor = Actor.from_request(request)
    location = access_location(actor, location_id)
    try:
        chair = services.chair_create(
            actor=actor, location_id=location.pk, name=request.POST.get("name", "")
        )
    except ValidationError as exc:
        _flash_errors(request, exc, {"name": "Chair name"})
    else:
        messages.success(request, f"Added {chair.name}.")
    return redirect("clinics:location_edit", location_id=location.pk)


@roles_required(ADMIN)
@require_POST
def chair_rename(request: HttpRequest, chair_id: int) -> HttpResponse:
    actor = Actor.from_request(request)
    try:
        chair = services.chair_rename(
            actor=actor, chair_id=chair_id, name=request.POST.get("name", "")
        )
    except ValidationError as exc:
        _flash_errors(request, exc, {"name": "Chair name"})
        chair = access_chair(actor, chair_id)
    else:
        messages.success(request, f"Renamed to {chair.name}.")
    return redirect("clinics:location_edit", location_id=chair.location_id)


@roles_required(ADMIN)
@require_POST
def chair_active(request: HttpRequest, chair_id: int) -> HttpResponse:
    is_active = _posted_bool(request, "is_active")
    chair = services.chair_set_active(
        actor=Actor.from_request(request), chair_id=chair_id, is_active=is_active
    )
    verb = "reactivated" if is_active else "deactivated: it is no longer booked"
    messages.success(request, f"{chair.name} {verb}.")
    return redirect("clinics:location_edit", location_id=chair.location_id)


# --- staff ------------------------------------------------------------------------------------


@roles_required(ADMIN)
@require_GET
def staff_list(request: HttpRequest) -> HttpResponse:
    page = selectors.staff_for_admin(clinic_id=user_clinic_id(signed_in_user(request)))
    return render(
        request,
        "clinics/staff_list.html",
        {"page": page, "me": signed_in_user(request)},
    )


@roles_required(ADMIN)
@require_http_methods(["GET", "POST"])
def staff_invite(request: HttpRequest) -> HttpResponse:
    form = InvitationForm(request.POST or None, clinic_id=user_clinic_id(signed_in_user(request)))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            invitation = account_services.staff_invitation_create(
                actor=Actor.from_request(request),
                email=data["email"],
                role=data["role"],
                location_ids=[loc.pk for loc in data["locations"]],
            )
        except ValidationError as exc:
            errors_onto_form(form, exc)
        else:
            messages.success(request, f"Invitation emailed to {invitation.email}.")
            return redirect("clinics:staff")
    status = 422 if request.method == "POST" else 200
    return render(request, "clinics/staff_invite.html", {"form": form}, status=status)


@roles_required(ADMIN)
@require_http_methods(["GET", "POST"])
def staff_edit(request: HttpRequest, user_id: int) -> HttpResponse:
    actor = Actor.from_request(request)
    member = account_services.access_staff_member(actor, user_id)
    initial = {"role": member.role, "locations": list(member.locations.all())}
    form = StaffMemberForm(
        request.POST or None, initial=initial, clinic_id=user_clinic_id(signed_in_user(request))
    )
    if request.method == "POST" and form.is_valid():
        try:
            account_services.staff_member_update(
                actor=actor,
                user_id=member.pk,
                role=form.cleaned_data["role"],
                location_ids=[loc.pk for loc in form.cleaned_data["locations"]],
            )
        except ValidationError as exc:
            errors_onto_form(form, exc)
        else:
            messages.success(request, f"Saved {member.display_name}.")
            return redirect("clinics:staff")
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "clinics/staff_edit.html",
        {"form": form, "member": member, "is_me": member.pk == signed_in_user(request).pk},
        status=status,
    )


@roles_required(ADMIN)
@require_POST
def staff_active(request: HttpRequest, user_id: int) -> HttpResponse:
    is_active = _posted_bool(request, "is_active")
    try:
        member = account_services.staff_member_set_active(
            actor=Actor.from_request(request), user_id=user_id, is_active=is_active
        )
    except ValidationError as exc:
        _flash_errors(request, exc, {})
        return redirect("clinics:staff_edit", user_id=user_id)
    verb = "reactivated" if is_active else "deactivated: they can no longer sign in"
    messages.success(request, f"{member.display_name} {verb}.")
    return redirect("clinics:staff")


@roles_required(ADMIN)
@require_POST
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    try:
        invitation = account_services.staff_invitation_revoke(
            actor=Actor.from_request(request), invitation_id=invitation_id
        )
    except ValidationError as exc:
        _flash_errors(request, exc, {})
    else:
        messages.success(request, f"Invitation to {invitation.email} withdrawn.")
    return redirect("clinics:staff")


@login_not_required
@require_http_methods(["GET", "POST"])
def staff_join(request: HttpRequest, token: str) -> HttpResponse:
    """The invitee's page: choose a name and a password, and the account exists."""
    try:
        invitation = account_services.staff_invitation_resolve(token)
    except account_services.InvitationError as exc:
        return render(request, "clinics/join_error.html", {"message": str(exc)}, status=400)
    if request.user.is_authenticated:
        # Accepting while signed in as someone else would mix two people's sessions.
        return render(request, "clinics/join_signed_in.html", {"invitation": invitation})
    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = account_services.staff_invitation_accept(
                token=token,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password"],
                ip=client_ip(request),
            )
        except account_services.InvitationError as exc:
            return render(request, "clinics/join_error.html", {"message": str(exc)}, status=400)
        except ValidationError as exc:
            errors_onto_form(form, exc)
        else:
            login(request, user, backend="ketaclinic.accounts.backends.ClinicAuthenticationBackend")
            messages.success(request, f"Welcome to {invitation.clinic.name}.")
            return redirect("home")
    status = 422 if request.method == "POST" else 200
    return render(
        request, "clinics/join.html", {"form": form, "invitation": invitation}, status=status
    )


# --- protocol templates -----------------------------------------------------------------------


@roles_required(ADMIN)
@require_GET
def protocol_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.protocol_templates_for_admin(clinic_id=user_clinic_id(signed_in_user(request)))
    return render(request, "clinics/protocol_list.html", {"rows": rows})


@roles_required(ADMIN)
@require_http_methods(["GET", "POST"])
def protocol_new(request: HttpRequest) -> HttpResponse:
    form = ProtocolTemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            template = services.protocol_template_create(
                actor=Actor.from_request(request),
                values={name: form.cleaned_data[name] for name in TEMPLATE_FIELDS},
            )
        except ValidationError as exc:
            errors_onto_form(form, exc)
        else:
            messages.success(request, f"Added {template.name}.")
            return redirect("clinics:protocols")
    status = 422 if request.method == "POST" else 200
    return render(
        request, "clinics/protocol_form.html", {"form": form, "template": None}, status=status
    )


@roles_required(ADMIN)
@require_http_methods(["GET", "POST"])
def protocol_edit(request: HttpRequest, template_id: int) -> HttpResponse:
    actor = Actor.from_request(request)
    template = access_protocol_template(actor, template_id)
    if request.method == "GET":
        form = ProtocolTemplateForm(initial=ProtocolTemplateForm.initial_for(template))
    else:
        form = ProtocolTemplateForm(request.POST)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.protocol_template_update(
                actor=actor,
                template_id=template.pk,
                expected_version=form.cleaned_data["version"] or 0,
                values={name: form.cleaned_data[name] for name in TEMPLATE_FIELDS},
            )
        except ValidationError as exc:
            errors_onto_form(form, exc)
        else:
            if saved.version == template.version:
                messages.info(request, "Nothing changed.")
            else:
                messages.success(request, f"Saved {saved.name} as version {saved.version}.")
            return redirect("clinics:protocols")
    status = 422 if request.method == "POST" else 200
    return render(
        request,
        "clinics/protocol_form.html",
        {"form": form, "template": template},
        status=status,
    )


@roles_required(ADMIN)
@require_POST
def protocol_active(request: HttpRequest, template_id: int) -> HttpResponse:
    is_active = _posted_bool(request, "is_active")
    try:
        template = services.protocol_template_set_active(
            actor=Actor.from_request(request),
            template_id=template_id,
            expected_version=_posted_int(request, "version") or 0,
            is_active=is_active,
        )
    except ValidationError as exc:
        _flash_errors(request, exc, {})
    else:
        verb = "reactivated" if is_active else "deactivated: new plans cannot use it"
        messages.success(request, f"{template.name} {verb}.")
    return redirect("clinics:protocols")
