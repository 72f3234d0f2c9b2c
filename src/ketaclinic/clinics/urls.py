from django.urls import URLPattern, URLResolver

app_name = "clinics"

urlpatterns: list[URLPattern | URLResolver] = []
