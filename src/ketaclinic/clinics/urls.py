from django.urls import URLPattern, URLResolver, path

from ketaclinic.clinics import views

app_name = "clinics"

urlpatterns: list[URLPattern | URLResolver] = [
    path("clinic/settings/", views.settings_index, name="settings"),
    path("clinic/settings/safety/", views.policy_detail, name="policy"),
    path("clinic/settings/safety/edit/", views.policy_edit, name="policy_edit"),
    path("clinic/settings/safety/history/", views.policy_history, name="policy_history"),
    path("clinic/safety-proposals/", views.policy_proposals, name="policy_proposals"),
    path(
        "clinic/safety-proposals/<int:proposal_id>/approve/",
        views.policy_proposal_approve,
        name="policy_proposal_approve",
    ),
    path(
        "clinic/safety-proposals/<int:proposal_id>/decline/",
        views.policy_proposal_decline,
        name="policy_proposal_decline",
    ),
    path("clinic/locations/", views.location_list, name="locations"),
    path("clinic/locations/new/", views.location_new, name="location_new"),
    path("clinic/locations/<int:location_id>/", views.location_edit, name="location_edit"),
    path("clinic/locations/<int:location_id>/chairs/", views.chair_add, name="chair_add"),
    path("clinic/locations/chairs/<int:chair_id>/rename/", views.chair_rename, name="chair_rename"),
    path("clinic/locations/chairs/<int:chair_id>/active/", views.chair_active, name="chair_active"),
    path("clinic/staff/", views.staff_list, name="staff"),
    path("clinic/staff/invite/", views.staff_invite, name="staff_invite"),
    path("clinic/staff/<int:user_id>/", views.staff_edit, name="staff_edit"),
    path("clinic/staff/<int:user_id>/active/", views.staff_active, name="staff_active"),
    path(
        "clinic/staff/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("clinic/staff/join/<str:token>/", views.staff_join, name="staff_join"),
    path("clinic/protocols/", views.protocol_list, name="protocols"),
    path("clinic/protocols/new/", views.protocol_new, name="protocol_new"),
    path("clinic/protocols/<int:template_id>/", views.protocol_edit, name="protocol_edit"),
    path(
        "clinic/protocols/<int:template_id>/active/", views.protocol_active, name="protocol_active"
    ),
]
