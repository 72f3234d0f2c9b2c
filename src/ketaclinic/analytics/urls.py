from django.urls import URLPattern, URLResolver, path

from ketaclinic.analytics import views

app_name = "analytics"

urlpatterns: list[URLPattern | URLResolver] = [
    path("clinic/analytics/", views.clinic_analytics, name="clinic"),
    path("clinic/analytics/export.csv", views.clinic_analytics_csv, name="clinic_csv"),
]
