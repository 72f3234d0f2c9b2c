"""The settings switch between the two layouts (docs/operations.md "One machine or many"), read
by a real process as production reads them: without REDIS_URL the queue, cache and sessions are
the database's; with it, RQ, Redis and sessions read through Redis with the database as truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.production import manage, production_env

_READ = """
import json
from django.conf import settings
print(json.dumps({
    "TASKS": settings.TASKS,
    "CACHES": settings.CACHES,
    "SESSION_ENGINE": settings.SESSION_ENGINE,
    "RQ_QUEUES": getattr(settings, "RQ_QUEUES", None),
    "RQ": getattr(settings, "RQ", None),
    "rq_apps": [a for a in settings.INSTALLED_APPS if "rq" in a],
    "MEDIA_ROOT": str(settings.MEDIA_ROOT),
}))
"""


def _settings(env: dict[str, str]) -> dict[str, Any]:
    result = manage(env, "shell", "-c", _READ)
    assert result.returncode == 0, result.stderr
    values: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return values


def test_one_machine_keeps_the_queue_cache_and_sessions_in_the_database(tmp_path: Path) -> None:
    values = _settings(production_env(tmp_path))
    assert values["TASKS"] == {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }
    assert values["CACHES"]["default"] == {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "cache",
    }
    assert values["SESSION_ENGINE"] == "django.contrib.sessions.backends.db"
    assert (values["RQ_QUEUES"], values["RQ"], values["rq_apps"]) == (None, None, [])
    assert values["MEDIA_ROOT"] == str(tmp_path / "media")


def test_redis_url_moves_the_queue_cache_and_session_reads_to_redis(tmp_path: Path) -> None:
    url = "redis://redis.internal:6379/2"
    shared = tmp_path / "shared-media"
    values = _settings(production_env(tmp_path, REDIS_URL=url, MEDIA_ROOT=str(shared)))
    assert values["TASKS"] == {
        "default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}
    }
    assert values["CACHES"]["default"] == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
    }
    # The database stays the sessions' truth: a Redis restart signs nobody out.
    assert values["SESSION_ENGINE"] == "django.contrib.sessions.backends.cached_db"
    assert values["RQ_QUEUES"] == {"default": {"URL": url, "DEFAULT_TIMEOUT": 3600}}
    assert values["RQ"] == {"JOB_CLASS": "django_tasks_rq.Job"}
    assert values["rq_apps"] == ["django_rq", "django_tasks_rq"]
    assert values["MEDIA_ROOT"] == str(shared)


def test_the_task_queue_may_stay_in_the_database_beside_a_redis_cache(tmp_path: Path) -> None:
    url = "redis://redis.internal:6379/2"
    values = _settings(
        production_env(
            tmp_path, REDIS_URL=url, TASKS_BACKEND="database", TASK_TIMEOUT_SECONDS="7200"
        )
    )
    assert values["TASKS"]["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend"
    assert values["CACHES"]["default"]["LOCATION"] == url
    assert values["rq_apps"] == []
    assert values["RQ_QUEUES"]["default"]["DEFAULT_TIMEOUT"] == 7200


def test_rq_without_redis_is_refused_by_name(tmp_path: Path) -> None:
    result = manage(production_env(tmp_path, TASKS_BACKEND="rq"), "check")
    assert result.returncode != 0
    assert "TASKS_BACKEND=rq needs REDIS_URL" in result.stderr


def test_check_deploy_reports_nothing_with_redis(tmp_path: Path) -> None:
    # django-tasks-rq's and django-rq's own checks run too (the queue is configured, rq >= 2.5).
    result = manage(
        production_env(tmp_path, REDIS_URL="redis://redis.internal:6379/2"),
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output
