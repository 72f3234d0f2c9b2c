from django.apps import AppConfig


class DevdataConfig(AppConfig):
    name = "ketaclinic.devdata"
