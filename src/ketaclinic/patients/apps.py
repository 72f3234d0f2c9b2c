from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "ketaclinic.patients"
