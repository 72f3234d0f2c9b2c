"""Redis for the scale-out tests: a database number of these tests' own, emptied before and after.

``REDIS_URL`` (CI's PostgreSQL run sets it) names the server; the tests use its database
``KETACLINIC_TEST_REDIS_DB`` (13 unless set), never the one the URL names, so a developer's queue
and cache are not touched. Without ``REDIS_URL`` the tests that need Redis skip, saying so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.test import override_settings

TEST_REDIS_DB = int(os.environ.get("KETACLINIC_TEST_REDIS_DB", "13"))


def redis_test_url() -> str | None:
    """``REDIS_URL`` with its database replaced by the tests' own; None without REDIS_URL."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        return None
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{TEST_REDIS_DB}"))


def rq_settings(url: str) -> dict[str, Any]:
    """What settings.py sets with REDIS_URL and TASKS_BACKEND=rq, pointed at ``url``."""
    return {
        "TASKS": {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}},
        "RQ_QUEUES": {"default": {"URL": url, "DEFAULT_TIMEOUT": 600}},
        "RQ": {"JOB_CLASS": "django_tasks_rq.Job"},
    }


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The tests' Redis database, empty, with the task backend switched to RQ on it."""
    url = redis_test_url()
    if url is None:
        pytest.skip("needs Redis: set REDIS_URL (CI's PostgreSQL run does)")
    import redis

    connection = redis.Redis.from_url(url)
    try:
        connection.ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"REDIS_URL is set but Redis does not answer: {exc}")
    connection.flushdb()
    try:
        with override_settings(**rq_settings(url)):
            yield url
    finally:
        connection.flushdb()
        connection.close()
