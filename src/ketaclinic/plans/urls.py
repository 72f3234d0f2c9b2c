from django.urls import URLPattern, URLResolver, path

from ketaclinic.plans import views

app_name = "plans"

urlpatterns: list[URLPattern | URLResolver] = [
    path("staff/patients/<uuid:public_id>/plans/", views.patient_plans, name="patient_plans"),
    path("staff/patients/<uuid:public_id>/plans/new/", views.plan_new, name="plan_new"),
    path("staff/plans/<uuid:plan_id>/", views.plan_detail, name="plan_detail"),
    path("staff/plans/<uuid:plan_id>/edit/", views.plan_edit, name="plan_edit"),
    path("staff/plans/<uuid:plan_id>/protocol/", views.protocol_edit, name="protocol_edit"),
    path("staff/plans/<uuid:plan_id>/sign/", views.plan_sign, name="plan_sign"),
    path("staff/plans/<uuid:plan_id>/revise/", views.plan_revise, name="plan_revise"),
    path("staff/plans/<uuid:plan_id>/print/", views.plan_print, name="plan_print"),
    path("me/plan/", views.my_plan, name="my_plan"),
]
