"""The accounts app's own routes under /accounts/ (allauth's pages share the prefix): the page
script's remaining-time check and "Stay signed in" (accounts/session_timeout.py)."""

from django.urls import path

from ketaclinic.accounts import session_timeout

app_name = "accounts"

urlpatterns = [
    path("session/", session_timeout.session_status, name="session_status"),
    path("session/stay/", session_timeout.session_stay, name="session_stay"),
]
