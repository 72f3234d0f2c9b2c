"""Every job a worker runs is recorded (``JobRun``) and logged in one line, whatever the backend.

django-tasks sends ``task_started`` and ``task_finished`` from the worker that runs the job:
django-tasks-db's ``db_worker`` around ``run_task``, django-tasks-rq from its job class (in RQ's
work horse, before the job and in its success and failure callbacks). Both send the failure's
signal from inside the ``except`` block that caught the job's exception, which is how the error's
class is known here without its message: a message may name a patient, a class does not.

A receiver never raises: django-tasks-db would count the receiver's error as the job's own. A
run whose start could not be recorded (a locked database) is recorded whole when it ends.
Connected in ``web/apps.py``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from django_tasks import TaskResult, TaskResultStatus

from ketaclinic.web import services

logger = logging.getLogger("ketaclinic.jobs")

_HOST = socket.gethostname()
#: Runs started in this process and not finished yet; a worker runs one job at a time, so this
#: stays tiny, and it is cut back should finishes go missing (a job whose class vanished).
_RUNNING_MAX = 1000


@dataclass(frozen=True)
class _Started:
    run_id: int | None
    at: dt.datetime
    clock: float


_running: dict[str, _Started] = {}


def _path(task_result: TaskResult[Any]) -> str:
    return str(task_result.task.module_path)


def _error_class(task_result: TaskResult[Any]) -> str:
    exc_type = sys.exc_info()[0]
    if exc_type is not None:
        return f"{exc_type.__module__}.{exc_type.__qualname__}"
    if task_result.errors:
        return str(task_result.errors[-1].exception_class_path)
    return ""


def job_started(sender: Any, task_result: TaskResult[Any], **kwargs: Any) -> None:
    started = timezone.now()
    run_id: int | None = None
    try:
        run_id = services.job_run_start(
            task_id=str(task_result.id),
            task_path=_path(task_result),
            started_at=started,
            host=_HOST,
            pid=os.getpid(),
        ).pk
    except Exception:
        # The class only: the driver's message could quote the statement.
        logger.warning(
            "Job %s: its start could not be recorded (%s)",
            _path(task_result),
            sys.exc_info()[0].__name__,  # type: ignore[union-attr]
        )
    if len(_running) >= _RUNNING_MAX:
        _running.clear()
    _running[str(task_result.id)] = _Started(run_id, started, time.monotonic())


def job_finished(sender: Any, task_result: TaskResult[Any], **kwargs: Any) -> None:
    finished = timezone.now()
    path = _path(task_result)
    succeeded = task_result.status == TaskResultStatus.SUCCESSFUL
    error = "" if succeeded else _error_class(task_result)
    started = _running.pop(str(task_result.id), None)
    if started is None:
        # Its start was sent to another process, or never: the backend's own time, if any.
        began = task_result.started_at or finished
        seconds = max(0.0, (finished - began).total_seconds())
        run_id = None
    else:
        began, seconds, run_id = started.at, time.monotonic() - started.clock, started.run_id
    if succeeded:
        logger.info("Job %s succeeded in %.3f s", path, seconds)
    else:
        logger.warning("Job %s failed in %.3f s (%s)", path, seconds, error or "unknown error")
    try:
        services.job_run_finish(
            run_id=run_id,
            task_id=str(task_result.id),
            task_path=path,
            started_at=began,
            finished_at=finished,
            succeeded=succeeded,
            error_class=error,
            host=_HOST,
            pid=os.getpid(),
        )
    except Exception:
        logger.warning(
            "Job %s: its outcome could not be recorded (%s)",
            path,
            sys.exc_info()[0].__name__,  # type: ignore[union-attr]
        )
