"""Thin views: parse, authorize (role gate plus the plan's access helper), call, render.

Nurses and clinic admins read plans; only a physician creates, edits, signs, revises or sets the
protocol (other roles get a 404, as for any page outside their role). The front desk sees no
plan at all. Patients see their own signed plan through ``me/plan/`` only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ketaclinic.accounts.api import reauthentication_required, roles_required
from ketaclinic.accounts.models import Role, User
from ketaclinic.audit.api import Actor
from ketaclinic.lib.forms import StaleObjectError
from ketaclinic.lib.views import errors_onto_form
from ketaclinic.outcomes.api import finished_series_ends
from ketaclinic.plans import selectors, services
from ketaclinic.plans.charts import protocol_curve
from ketaclinic.plans.forms import PlanForm, ProtocolForm, VersionForm
from ketaclinic.plans.models import PlanStatus
from ketaclinic.plans.protocol import DoseRefusedError
from ketaclinic.plans.services import PlanLockedError

READERS = (Role.NURSE, Role.PHYSICIAN, Role.CLINIC_ADMIN)
WRITER = Role.PHYSICIAN


def _status_of(exc: ValidationError) -> int:
    # A stale or signed plan is a conflict with the stored state; anything else is bad input.
    return 409 if isinstance(exc, StaleObjectError | PlanLockedError) else 422


def _role(request: HttpRequest) -> str:
    # Not signed_in_user(): that loads the clinic, a query this page does not need.
    return request.user.role if isinstance(request.user, User) else ""


# -- staff: a patient's plans ------------------------------------------------------------------


@roles_required(*READERS)
@require_GET
def patient_plans(request: HttpRequest, public_id: str) -> HttpResponse:
    patient, plans = selectors.patient_plans(
        actor=Actor.from_request(request), patient_public_id=str(public_id)
    )
    return render(
        request,
        "plans/patient_plans.html",
        {
            "patient": patient,
            "plans": plans,
            "can_write": _role(request) == WRITER,
            "has_draft": any(p.status == PlanStatus.DRAFT for p in plans),
        },
    )


@roles_required(WRITER)
@require_http_methods(["GET", "POST"])
def plan_new(request: HttpRequest, public_id: str) -> HttpResponse:
    actor = Actor.from_request(request)
    patient, plans = selectors.patient_plans(actor=actor, patient_public_id=str(public_id))
    draft = next((p for p in plans if p.status == PlanStatus.DRAFT), None)
    if draft is not None and request.method == "GET":
        messages.info(request, f"Plan {draft.number} is still a draft: continue it here.")
        return redirect("plans:plan_edit", plan_id=draft.public_id)
    form = PlanForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                plan = services.plan_create(
                    actor=actor, patient_public_id=str(public_id), **form.plan_values()
                )
            except ValidationError as exc:
                errors_onto_form(form, exc)
                status = _status_of(exc)
            else:
                messages.success(request, f"Plan {plan.number} started as a draft.")
                return redirect("plans:plan_detail", plan_id=plan.public_id)
    return render(
        request, "plans/plan_form.html", {"form": form, "patient": patient}, status=status
    )


# -- staff: one plan ---------------------------------------------------------------------------


def _detail(
    request: HttpRequest, plan_id: str, *, errors: list[str] | None = None, status: int = 200
) -> HttpResponse:
    page = selectors.plan_page(actor=Actor.from_request(request), plan_id=str(plan_id))
    # The suggested tasks need the patient's finished series, which the outcomes app reads.
    today = timezone.localdate()
    ends = finished_series_ends(page.patient, today=today)
    page = selectors.with_suggested_tasks(page, previous_series_ends=ends, today=today)
    curve = None if page.protocol is None else protocol_curve(page.protocol)
    return render(
        request,
        "plans/plan_detail.html",
        {"page": page, "plan": page.plan, "curve": curve, "errors": errors or []},
        status=status,
    )


@roles_required(*READERS)
@require_GET
def plan_detail(request: HttpRequest, plan_id: str) -> HttpResponse:
    return _detail(request, plan_id)


@roles_required(WRITER)
@require_http_methods(["GET", "POST"])
def plan_edit(request: HttpRequest, plan_id: str) -> HttpResponse:
    actor = Actor.from_request(request)
    page = selectors.plan_page(actor=actor, plan_id=str(plan_id), view="edit", for_write=True)
    if request.method == "GET":
        if not page.plan.is_draft:
            messages.error(request, str(PlanLockedError(page.plan).message))
            return redirect("plans:plan_detail", plan_id=page.plan.public_id)
        form = PlanForm(initial=PlanForm.initial_for(page.plan))
        return render(request, "plans/plan_form.html", {"form": form, "page": page})
    form = PlanForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            services.plan_update(
                actor=actor,
                plan_id=str(plan_id),
                expected_version=form.cleaned_data["version"] or 0,
                **form.plan_values(),
            )
        except ValidationError as exc:
            errors_onto_form(form, exc)
            status = _status_of(exc)
        else:
            messages.success(request, "Plan saved.")
            return redirect("plans:plan_detail", plan_id=page.plan.public_id)
    return render(request, "plans/plan_form.html", {"form": form, "page": page}, status=status)


@roles_required(WRITER)
@require_http_methods(["GET", "POST"])
def protocol_edit(request: HttpRequest, plan_id: str) -> HttpResponse:
    """One form: choosing a template fills the fields (plans.js at once; without JavaScript,
    "Use this template" reloads them), and a save whose fields belong to another template than
    the one chosen refills them and saves nothing."""
    actor = Actor.from_request(request)
    data = selectors.protocol_form_data(actor=actor, plan_id=str(plan_id))
    page = data.page
    if not page.plan.is_draft:
        messages.error(request, str(PlanLockedError(page.plan).message))
        return redirect("plans:plan_detail", plan_id=page.plan.public_id)
    context: dict[str, Any] = {"page": page, "data": data, "templates": data.templates}
    if not data.templates:
        return render(request, "plans/protocol_form.html", context)
    wanted = request.POST.get("template") or request.GET.get("template")
    if not wanted and page.protocol is not None:
        wanted = str(page.protocol.template_id)
    template = next((t for t in data.templates if str(t.pk) == wanted), data.templates[0])
    context["template"] = template
    context["template_values"] = {
        str(t.pk): ProtocolForm.template_values(t) for t in data.templates
    }

    def filled(status: int = 200, **extra: Any) -> HttpResponse:
        form = ProtocolForm(
            initial=ProtocolForm.initial_for(
                template=template, protocol=page.protocol, version=page.plan.version
            ),
            templates=data.templates,
            template=template,
        )
        return render(
            request, "plans/protocol_form.html", {**context, **extra, "form": form}, status=status
        )

    if request.method == "GET" or request.POST.get("action") == "load":
        return filled()
    if request.POST.get("shown_template") != str(template.pk):
        # The fields hold another template's values (the choice changed without them being
        # refilled): show the chosen template's values and save nothing.
        return filled(422, template_reloaded=True)
    form = ProtocolForm(request.POST, templates=data.templates, template=template)
    status = 422
    if form.is_valid():
        cleaned = form.cleaned_data
        per_kg = template.fixed_dose_mg is None
        try:
            services.protocol_save(
                actor=actor,
                plan_id=str(plan_id),
                expected_version=cleaned["version"],
                choice=services.ProtocolChoice(
                    template_id=cleaned["template"],
                    dosing_basis=cleaned["dosing_basis"],
                    # Only the dose form the template prescribes (the other field is hidden).
                    dose_mg_per_kg=cleaned["dose_mg_per_kg"] if per_kg else None,
                    fixed_dose_mg=None if per_kg else cleaned["fixed_dose_mg"],
                    duration_min=cleaned["duration_min"],
                    concentration_mg_per_ml=cleaned["concentration_mg_per_ml"],
                    pk_model=cleaned["pk_model"],
                ),
            )
        except DoseRefusedError as exc:
            form.add_error(None, exc.messages)
            context["refused_limits"] = exc.limits
        except ValidationError as exc:
            errors_onto_form(form, exc)
            status = _status_of(exc)
        else:
            messages.success(request, "Ketamine protocol saved.")
            return redirect("plans:plan_detail", plan_id=page.plan.public_id)
    return render(request, "plans/protocol_form.html", {**context, "form": form}, status=status)


def _versioned_write(request: HttpRequest, plan_id: str, write: Any, done: str) -> HttpResponse:
    form = VersionForm(request.POST)
    if not form.is_valid():
        return _detail(
            request, plan_id, errors=["The form was incomplete; reload the page."], status=422
        )
    try:
        plan = write(
            actor=Actor.from_request(request),
            plan_id=str(plan_id),
            expected_version=form.cleaned_data["version"],
        )
    except ValidationError as exc:
        return _detail(request, plan_id, errors=exc.messages, status=_status_of(exc))
    messages.success(request, done.format(number=plan.number))
    return redirect("plans:plan_detail", plan_id=plan.public_id)


@roles_required(WRITER)
@require_POST
@reauthentication_required
def plan_sign(request: HttpRequest, plan_id: str) -> HttpResponse:
    # A revision is signed here too. The signer proves who they are first (accounts/reauth.py);
    # the version check still runs on the replayed POST, so a stale page is refused after it.
    return _versioned_write(request, plan_id, services.plan_sign, "Plan {number} signed.")


@roles_required(WRITER)
@require_POST
def plan_revise(request: HttpRequest, plan_id: str) -> HttpResponse:
    return _versioned_write(
        request, plan_id, services.plan_revise, "Plan {number} started as a revision."
    )


@roles_required(*READERS)
@require_GET
def plan_print(request: HttpRequest, plan_id: str) -> HttpResponse:
    page = selectors.plan_page(
        actor=Actor.from_request(request), plan_id=str(plan_id), view="print"
    )
    return render(request, "plans/summary.html", {"page": page, "staff_view": True})


# -- patients ----------------------------------------------------------------------------------


@roles_required(Role.PATIENT)
@require_GET
def my_plan(request: HttpRequest) -> HttpResponse:
    page = selectors.my_plan(actor=Actor.from_request(request))
    return render(request, "plans/summary.html", {"page": page, "staff_view": False})
