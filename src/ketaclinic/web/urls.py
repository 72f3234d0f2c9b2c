from django.urls import path

from ketaclinic.web import views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
    path("home/", views.home, name="home"),
    path("nav/counts/", views.nav_counts, name="nav_counts"),
    path("me/", views.my_record, name="my_record"),
    path("clinic/", views.clinic_page, name="clinic_overview"),
]
