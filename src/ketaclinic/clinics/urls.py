from django.urls import URLPattern, URLResolver, path, re_path

from ketaclinic.clinics.views import brand, locations, protocols, safety, staff

app_name = "clinics"

urlpatterns: list[URLPattern | URLResolver] = [
    path("clinic/settings/", safety.settings_index, name="settings"),
    path("clinic/settings/brand/", brand.brand_edit, name="brand"),
    path("brand/logo/<int:clinic_id>/<int:version>/", brand.logo, name="logo"),
    re_path(r"^brand/(?P<colour>[0-9a-f]{6})\.css$", brand.brand_css, name="brand_css"),
    path("clinic/settings/safety/", safety.policy_detail, name="policy"),
    path("clinic/settings/safety/edit/", safety.policy_edit, name="policy_edit"),
    path("clinic/settings/safety/history/", safety.policy_history, name="policy_history"),
    path("clinic/safety-proposals/", safety.policy_proposals, name="policy_proposals"),
    path(
        "clinic/safety-proposals/<int:proposal_id>/approve/",
        safety.policy_proposal_approve,
        name="policy_proposal_approve",
    ),
    path(
        "clinic/safety-proposals/<int:proposal_id>/decline/",
        safety.policy_proposal_decline,
        name="policy_proposal_decline",
    ),
    path("clinic/locations/", locations.location_list, name="locations"),
    path("clinic/locations/new/", locations.location_new, name="location_new"),
    path("clinic/locations/<int:location_id>/", locations.location_edit, name="location_edit"),
    path("clinic/locations/<int:location_id>/chairs/", locations.chair_add, name="chair_add"),
    path(
        "clinic/locations/chairs/<int:chair_id>/rename/",
        locations.chair_rename,
        name="chair_rename",
    ),
    path(
        "clinic/locations/chairs/<int:chair_id>/active/",
        locations.chair_active,
        name="chair_active",
    ),
    path("clinic/staff/", staff.staff_list, name="staff"),
    path("clinic/staff/invite/", staff.staff_invite, name="staff_invite"),
    path("clinic/staff/<int:user_id>/", staff.staff_edit, name="staff_edit"),
    path("clinic/staff/<int:user_id>/active/", staff.staff_active, name="staff_active"),
    path(
        "clinic/staff/<int:user_id>/second-factor/reset/",
        staff.staff_mfa_reset,
        name="staff_mfa_reset",
    ),
    path(
        "clinic/staff/invitations/<int:invitation_id>/revoke/",
        staff.invitation_revoke,
        name="invitation_revoke",
    ),
    path("clinic/staff/join/<str:token>/", staff.staff_join, name="staff_join"),
    path("clinic/protocols/", protocols.protocol_list, name="protocols"),
    path("clinic/protocols/new/", protocols.protocol_new, name="protocol_new"),
    path("clinic/protocols/<int:template_id>/", protocols.protocol_edit, name="protocol_edit"),
    path(
        "clinic/protocols/<int:template_id>/active/",
        protocols.protocol_active,
        name="protocol_active",
    ),
]
