"""The safety settings pages: the settings hub, the version in force, its edit form and history,
and the proposed changes a second physician approves or declines (gate 9).

Separate from the other settings pages because two roles meet here: clinic admins edit and
follow, physicians decide on proposals (404 for anyone else; the services check again).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ketaclinic.accounts.api import reauthentication_required, roles_required, signed_in_user
from ketaclinic.audit.api import Actor
from ketaclinic.clinics import selectors, services
from ketaclinic.clinics.forms import ClinicPolicyForm
from ketaclinic.clinics.models import ClinicPolicy
from ketaclinic.clinics.views.common import (
    ADMIN,
    PHYSICIAN,
    form_page,
    run_action,
    saved_from_form,
)
from ketaclinic.lib.views import user_clinic_id

PROPOSAL_LABELS = {"proposal": "Proposed change", "reason": "Reason for declining"}


@roles_required(ADMIN)
@require_GET
def settings_index(request: HttpRequest) -> HttpResponse:
    policy = selectors.clinic_policy_current(clinic_id=user_clinic_id(signed_in_user(request)))
    return render(request, "clinics/settings_index.html", {"policy": policy})


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
@reauthentication_required  # saving asks for the password (and code) again; showing does not
def policy_edit(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    clinic = user.clinic
    assert clinic is not None
    policy = selectors.clinic_policy_current(clinic_id=clinic.pk)
    form = ClinicPolicyForm(request.POST or None, policy=policy)
    saved = saved_from_form(
        request,
        form,
        lambda: services.clinic_policy_change(
            actor=Actor.from_request(request),
            clinic=clinic,
            values=form.values(),
            based_on_version=form.cleaned_data["based_on_version"],
            note=form.cleaned_data["note"],
        ),
    )
    if saved is not None:
        if isinstance(saved, ClinicPolicy):
            messages.success(request, f"Saved as version {saved.version}.")
        else:
            messages.info(
                request,
                "Proposed: the change takes effect when a second physician approves it. "
                f"Version {policy.version} stays in force until then.",
            )
        return redirect("clinics:policy")
    return form_page(request, "clinics/policy_edit.html", {"form": form, "policy": policy})


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
    clinic_id = user_clinic_id(user)
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


@roles_required(PHYSICIAN)
@require_POST
@reauthentication_required  # approving puts new safety settings in force
def policy_proposal_approve(request: HttpRequest, proposal_id: int) -> HttpResponse:
    policy = run_action(
        request,
        lambda: services.policy_proposal_approve(
            actor=Actor.from_request(request),
            proposal_id=proposal_id,
            note=request.POST.get("note", ""),
        ),
        PROPOSAL_LABELS,
    )
    if policy is not None:
        messages.success(request, f"Approved: version {policy.version} is in force.")
    return redirect("clinics:policy_proposals")


@roles_required(PHYSICIAN)
@require_POST
def policy_proposal_decline(request: HttpRequest, proposal_id: int) -> HttpResponse:
    declined = run_action(
        request,
        lambda: services.policy_proposal_decline(
            actor=Actor.from_request(request),
            proposal_id=proposal_id,
            reason=request.POST.get("reason", ""),
        ),
        PROPOSAL_LABELS,
    )
    if declined is not None:
        messages.success(request, "Declined: the settings stay as they are.")
    return redirect("clinics:policy_proposals")
