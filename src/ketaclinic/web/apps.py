from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "ketaclinic.web"

    def ready(self) -> None:
        from django_tasks.signals import task_finished, task_started

        from ketaclinic.web import receivers

        # Every job run, on any backend, is recorded and logged (web/receivers.py).
        task_started.connect(receivers.job_started, dispatch_uid="web.job_started")
        task_finished.connect(receivers.job_finished, dispatch_uid="web.job_finished")
