from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "ketaclinic.web"
