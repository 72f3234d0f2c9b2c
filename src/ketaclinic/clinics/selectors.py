from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Page
from django.db.models import Count, Prefetch, QuerySet

from ketaclinic.accounts.models import STAFF_ROLES, StaffInvitation, User
from ketaclinic.clinical import dosing
from ketaclinic.clinical.dosing import DoseLimitExceeded, DoseLimits, infusion_plan
from ketaclinic.clinics.models import (
    Chair,
    Clinic,
    ClinicPolicy,
    Location,
    PolicyProposal,
    ProposalStatus,
    ProtocolTemplate,
)
from ketaclinic.clinics.policy_fields import POLICY_FIELDS, POLICY_GROUPS, show
from ketaclinic.lib.paging import numbered_page


@dataclass(frozen=True)
class ClinicOverview:
    clinic: Clinic
    locations: list[Location]
    staff: list[User]
    patient_count: int


def clinic_overview(*, user: User) -> ClinicOverview:
    """Locations with their chairs, the staff list and the patient count in four queries."""
    assert user.clinic_id is not None
    clinic = Clinic.objects.annotate(n_patients=Count("patients", distinct=True)).get(
        pk=user.clinic_id
    )
    locations = list(
        Location.objects.filter(clinic_id=user.clinic_id).prefetch_related(
            Prefetch("chairs", queryset=Chair.objects.filter(is_active=True))
        )
    )
    staff = list(
        User.objects.filter(clinic_id=user.clinic_id, role__in=STAFF_ROLES, is_active=True)
        .prefetch_related("locations")
        .order_by("role", "full_name")
    )
    return ClinicOverview(
        clinic=clinic,
        locations=locations,
        staff=staff,
        patient_count=clinic.n_patients,
    )


def clinic_policy_current(*, clinic_id: int) -> ClinicPolicy:
    """The clinic's newest policy version.

    A clinic created without ``clinic_defaults_install`` has no row yet; it gets an unsaved
    version 0 holding the default policy, so a check never runs without thresholds.
    """
    policy = ClinicPolicy.objects.filter(clinic_id=clinic_id).order_by("-version").first()
    if policy is None:
        policy = ClinicPolicy(clinic_id=clinic_id, version=0)
    return policy


def clinic_policy_for_page(*, clinic_id: int) -> ClinicPolicy:
    """The current version with its author, for the settings pages (one query)."""
    policy = (
        ClinicPolicy.objects.filter(clinic_id=clinic_id)
        .select_related("created_by")
        .order_by("-version")
        .first()
    )
    return policy if policy is not None else clinic_policy_current(clinic_id=clinic_id)


def protocol_templates_active(*, clinic_id: int) -> list[ProtocolTemplate]:
    return list(ProtocolTemplate.objects.filter(clinic_id=clinic_id, is_active=True))


# --- clinic admin settings pages --------------------------------------------------------------


def locations_for_admin(*, clinic_id: int) -> list[Location]:
    """Every location with all its chairs, active or not, in two queries."""
    return list(
        Location.objects.filter(clinic_id=clinic_id).prefetch_related(
            Prefetch("chairs", queryset=Chair.objects.order_by("-is_active", "name"))
        )
    )


def location_chairs(*, location: Location) -> list[Chair]:
    return list(Chair.objects.filter(location=location).order_by("-is_active", "name"))


@dataclass(frozen=True)
class TemplateRow:
    template: ProtocolTemplate
    # Why the template no longer fits the current dose limits (they may have been tightened
    # after it was written), or None.
    limit_problem: str | None


def template_limit_problem(template: ProtocolTemplate, limits: DoseLimits) -> str | None:
    """Why the template cannot be given to a 70 kg adult under ``limits``, or None."""
    per_kg = template.dose_mg_per_kg
    if per_kg is None:
        assert template.fixed_dose_mg is not None
        per_kg = template.fixed_dose_mg / dosing.REFERENCE_ADULT_WEIGHT_KG
    try:
        infusion_plan(
            dose_mg_per_kg=per_kg,
            duration_min=template.duration_min,
            dosing_weight_kg=dosing.REFERENCE_ADULT_WEIGHT_KG,
            concentration_mg_per_ml=template.concentration_mg_per_ml,
            limits=limits,
        )
    except DoseLimitExceeded as exc:
        return "; ".join(
            f"for a {show(dosing.REFERENCE_ADULT_WEIGHT_KG)} kg adult this gives {value:.3g} "
            f"{dosing.LIMIT_LABELS[name][1]}, over the clinic's {dosing.LIMIT_LABELS[name][0]} "
            f"of {show(maximum)} {dosing.LIMIT_LABELS[name][1]}"
            for name, value, maximum in exc.exceeded
        )
    return None


def protocol_templates_for_admin(*, clinic_id: int) -> list[TemplateRow]:
    """Every template, active first, each checked against today's limits: two queries."""
    limits = clinic_policy_current(clinic_id=clinic_id).dose_limits()
    templates = ProtocolTemplate.objects.filter(clinic_id=clinic_id).order_by("-is_active", "name")
    return [TemplateRow(t, template_limit_problem(t, limits)) for t in templates]


@dataclass(frozen=True)
class PolicyRow:
    name: str
    label: str
    unit: str
    value: object
    default: object
    help: str

    @property
    def differs_from_default(self) -> bool:
        return self.value != self.default


@dataclass(frozen=True)
class PolicySection:
    title: str
    intro: str
    rows: list[PolicyRow]


def clinic_policy_sections(policy: ClinicPolicy) -> list[PolicySection]:
    """The policy's values grouped as on the settings page, each beside its default."""

    return [
        PolicySection(
            title=group.title,
            intro=group.intro,
            rows=[
                PolicyRow(
                    name=f.name,
                    label=f.label,
                    unit=f.unit,
                    value=show(getattr(policy, f.name)),
                    default=show(f.default),
                    help=f.help,
                )
                for f in group.fields
            ],
        )
        for group in POLICY_GROUPS
    ]


@dataclass(frozen=True)
class PolicyChange:
    label: str
    unit: str
    old: str
    new: str


@dataclass(frozen=True)
class PolicyVersion:
    policy: ClinicPolicy
    changes: list[PolicyChange]
    # The second physician whose approval brought this version into force (gate 9), if any.
    approved_by: User | None = None


def clinic_policy_history(*, clinic_id: int) -> list[PolicyVersion]:
    """Every version, newest first, with what changed from the version before it and who
    approved it: one query."""

    versions = list(
        ClinicPolicy.objects.filter(clinic_id=clinic_id)
        .select_related("created_by", "approved_proposal__decided_by")
        .order_by("version")
    )
    history: list[PolicyVersion] = []
    previous: ClinicPolicy | None = None
    for policy in versions:
        changes = []
        if previous is not None:
            for name in ClinicPolicy.THRESHOLD_FIELDS:
                old, new = getattr(previous, name), getattr(policy, name)
                if old != new:
                    spec = POLICY_FIELDS[name]
                    changes.append(PolicyChange(spec.label, spec.unit, show(old), show(new)))
        proposal = getattr(policy, "approved_proposal", None)
        history.append(
            PolicyVersion(policy, changes, proposal.decided_by if proposal is not None else None)
        )
        previous = policy
    history.reverse()
    return history


@dataclass(frozen=True)
class ProposalRow:
    """A proposed change to the safety settings as the pages show it."""

    proposal: PolicyProposal
    changes: list[PolicyChange]
    # Labels of the settings that made it wait for a second physician.
    waiting_on: list[str]
    # Proposed on a version that is no longer in force: it can only be declined.
    stale: bool


def _proposal_rows(proposals: list[PolicyProposal], current_version: int) -> list[ProposalRow]:
    rows = []
    for proposal in proposals:
        changes = [
            PolicyChange(
                POLICY_FIELDS[name].label,
                POLICY_FIELDS[name].unit,
                show(proposal.old_values[name]),
                show(proposal.values[name]),
            )
            for name in ClinicPolicy.THRESHOLD_FIELDS
            if name in proposal.values
        ]
        rows.append(
            ProposalRow(
                proposal=proposal,
                changes=changes,
                waiting_on=[POLICY_FIELDS[name].label for name in proposal.waiting_on],
                stale=proposal.based_on_version != current_version,
            )
        )
    return rows


def policy_proposals_pending(*, clinic_id: int, current: ClinicPolicy) -> list[ProposalRow]:
    """The clinic's proposals waiting for a second physician, oldest first (the order to decide
    them in), each marked stale when ``current`` is not the version it was proposed on: one
    query."""
    proposals = list(
        PolicyProposal.objects.filter(clinic_id=clinic_id, status=ProposalStatus.PENDING)
        .select_related("proposed_by")
        .order_by("proposed_at", "id")
    )
    return _proposal_rows(proposals, current.version)


# How many decided proposals the approvals page lists; the history page keeps every version.
RECENT_DECISIONS = 10


def policy_proposals_decided(*, clinic_id: int, current: ClinicPolicy) -> list[ProposalRow]:
    """The clinic's last ``RECENT_DECISIONS`` decided proposals, newest first: one query."""
    proposals = list(
        PolicyProposal.objects.filter(clinic_id=clinic_id)
        .exclude(status=ProposalStatus.PENDING)
        .select_related("proposed_by", "decided_by", "result")
        .order_by("-decided_at", "-id")[:RECENT_DECISIONS]
    )
    return _proposal_rows(proposals, current.version)


# Staff a page at a time: a chain of fifty sites employs hundreds.
STAFF_PAGE_SIZE = 50


@dataclass(frozen=True)
class StaffPage:
    staff: Page[User]  # one page of them, with the count (lib/paging.py)
    # Open invitations, expired ones included (marked on the page) so the admin sees why
    # someone never joined.
    invitations: list[StaffInvitation]


def staff_for_admin(*, clinic_id: int, page: str | int | None = 1) -> StaffPage:
    """One page of the staff (active first) with their count, and the open invitations, each
    with their locations: five queries. Past the end shows the last page."""
    staff = numbered_page(
        User.objects.filter(clinic_id=clinic_id, role__in=STAFF_ROLES)
        .prefetch_related("locations")
        # The id settles ties of name and email, so no one is on two pages or none.
        .order_by("-is_active", "role", "full_name", "email", "id"),
        page,
        per_page=STAFF_PAGE_SIZE,
    )
    invitations = list(
        StaffInvitation.objects.filter(
            clinic_id=clinic_id, accepted_at__isnull=True, revoked_at__isnull=True
        )
        .select_related("invited_by")
        .prefetch_related("locations")
        .order_by("email")
    )
    return StaffPage(staff=staff, invitations=invitations)


def proposals_waiting(*, clinic_id: int) -> QuerySet[PolicyProposal]:
    """The clinic's safety-setting proposals waiting for a second physician, oldest first
    (lazy): the clinic admin's and the physicians' worklists."""
    return (
        PolicyProposal.objects.filter(clinic_id=clinic_id, status=ProposalStatus.PENDING)
        .select_related("proposed_by")
        .order_by("proposed_at", "id")
    )


def staff_invitations_open(*, clinic_id: int) -> QuerySet[StaffInvitation]:
    """Invitations neither accepted nor revoked, expired ones included (the admin resends or
    revokes them), oldest first (lazy): the clinic admin's worklist."""
    return StaffInvitation.objects.filter(
        clinic_id=clinic_id, accepted_at__isnull=True, revoked_at__isnull=True
    ).order_by("created_at", "id")
