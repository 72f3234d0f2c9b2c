from django.urls import URLPattern, URLResolver

app_name = "infusions"

urlpatterns: list[URLPattern | URLResolver] = []
