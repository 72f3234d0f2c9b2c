"""``/metrics`` in the Prometheus text format (prometheus_client): what each web process measures,
and what the database says at scrape time.

Measured here: ``ketaclinic_http_request_duration_seconds``, a histogram of every request's time
by route name, method and status class (``RequestMetricsMiddleware``, first in the middleware so
that it times the rest). No path or query is a label: a route's name names no patient, and the
label values stay a bounded set.

Read from the database at each scrape (``DatabaseCollector``), so every node reports the same
truths whichever one is scraped: the queue's depth, each job's runs of the last day and its last
success and failure (``JobRun``), the worker's heartbeat age, the reminders sent (counted
incrementally, ``running_count``). At most nine queries, whatever the clinic's size. Being the
same on every node, these are best read with ``max`` across nodes, never ``sum``.

Several gunicorn workers: each is its own process with its own histogram, and a scrape reaches
one of them. prometheus_client's multiprocess mode adds them up: every worker writes its values
to files in ``PROMETHEUS_MULTIPROC_DIR`` (set in the workers' environment before they start) and
a scrape merges the files. ``multiprocess_environment`` prepares the directory; ``ketaclinic
serve`` calls it before it starts gunicorn.

Who may read it: nobody by default (404). With ``METRICS_TOKEN`` set, a scraper sending
``Authorization: Bearer <token>`` (docs/operations.md "Health and metrics").
"""

from __future__ import annotations

import datetime as dt
import math
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from ketaclinic.lib.tasks import WORKER_HEARTBEAT
from ketaclinic.outcomes.models import SentDiaryReminder
from ketaclinic.scheduling.models import SentReminder
from ketaclinic.web import queue
from ketaclinic.web.health import HEARTBEAT
from ketaclinic.web.selectors import job_last_runs, job_run_counts

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

#: Page times run from a few milliseconds (a cached page) to seconds (a report).
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# Created unregistered: a scrape builds its own registry (``scrape``). In multiprocess mode its
# values go to this process's file in PROMETHEUS_MULTIPROC_DIR whatever registry reads them.
REQUEST_SECONDS = Histogram(
    "ketaclinic_http_request_duration_seconds",
    "Time to answer a request, by route name, method and status class.",
    ["view", "method", "status"],
    buckets=_BUCKETS,
    registry=None,
)


def _view_label(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return str(match.view_name)
    static_url = str(settings.STATIC_URL or "")
    if static_url and request.path.startswith(static_url):
        return "static"
    # Answered before routing (an HTTPS redirect), or a path no route matched (a 404).
    return "unrouted"


class RequestMetricsMiddleware:
    """Times every request into ``REQUEST_SECONDS``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in _METHODS else "other"
        REQUEST_SECONDS.labels(
            view=_view_label(request),
            method=method,
            status=f"{response.status_code // 100}xx",
        ).observe(time.perf_counter() - started)
        return response


# --- the database's truths ------------------------------------------------------------------

#: Job runs are counted over this window (``JobRun`` is purged, so an all-time count would fall).
RUNS_WINDOW = dt.timedelta(days=1)

_REMINDER_KINDS = {"48h": "appointment_48h", "2h": "appointment_2h"}


def _timestamp(moment: dt.datetime) -> float:
    return moment.timestamp()


class DatabaseCollector(Collector):
    """The clinic's background work as the database records it, read at each scrape."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "ketaclinic_database_up",
            "Whether this scrape could read the database (1) or not (0).",
        )
        try:
            metrics = list(self._read(timezone.now()))
        except Exception:
            # A failed read must not fail the scrape: the request histogram and this gauge
            # still say what is wrong.
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics

    def _read(self, now: dt.datetime) -> Iterator[Metric]:
        depth = queue.queue_depth(now)
        if depth is not None:
            jobs = GaugeMetricFamily(
                "ketaclinic_queue_jobs",
                "Jobs waiting in the task queue: ready (due now) or scheduled (due later).",
                labels=["state"],
            )
            jobs.add_metric(["ready"], depth.ready)
            jobs.add_metric(["scheduled"], depth.scheduled)
            yield jobs

        last = job_last_runs()
        heartbeat = GaugeMetricFamily(
            "ketaclinic_worker_heartbeat_age_seconds",
            "Seconds since the worker's last successful heartbeat job (+Inf: none recorded).",
        )
        beats = [last[p].succeeded for p in (HEARTBEAT, WORKER_HEARTBEAT) if p in last]
        succeeded = max((t for t in beats if t is not None), default=None)
        heartbeat.add_metric(
            [], math.inf if succeeded is None else max(0.0, (now - succeeded).total_seconds())
        )
        yield heartbeat

        success = GaugeMetricFamily(
            "ketaclinic_job_last_success_timestamp_seconds",
            "When each job's last successful run finished (Unix time).",
            labels=["job"],
        )
        failure = GaugeMetricFamily(
            "ketaclinic_job_last_failure_timestamp_seconds",
            "When each job's last failed run finished (Unix time).",
            labels=["job"],
        )
        for path, runs in sorted(last.items()):
            if runs.succeeded is not None:
                success.add_metric([path], _timestamp(runs.succeeded))
            if runs.failed is not None:
                failure.add_metric([path], _timestamp(runs.failed))
        yield success
        yield failure

        counted = GaugeMetricFamily(
            "ketaclinic_job_runs_last_day",
            "Job runs started in the last 24 hours, by job and outcome (running, succeeded, "
            "failed).",
            labels=["job", "outcome"],
        )
        for (path, outcome), n in sorted(job_run_counts(since=now - RUNS_WINDOW).items()):
            counted.add_metric([path, outcome], n)
        yield counted

        sent = CounterMetricFamily(
            "ketaclinic_reminders_sent",
            "Reminders sent, by kind (appointment 48 h and 2 h before, pain diary).",
            labels=["kind"],
        )
        by_kind = running_count("appointment", SentReminder.objects.all(), "kind")
        for kind, label in _REMINDER_KINDS.items():
            sent.add_metric([label], by_kind.get(kind, 0))
        sent.add_metric(
            ["diary"], running_count("diary", SentDiaryReminder.objects.all()).get("", 0)
        )
        yield sent


#: Rows counted afresh at every scrape, above the last id counted for good: an insert whose id
#: was drawn before a later row's commit (concurrent transactions) still lands in the count.
RUNNING_TAIL = 10_000


def running_count(name: str, rows: QuerySet[Any], field: str | None = None) -> dict[str, int]:
    """How many rows ``rows`` has, by ``field`` (or under ``""``), counted incrementally: the
    rows up to an id are counted once and kept in the shared cache, so a scrape counts only what
    was added since (a range of the primary key) plus the last ``RUNNING_TAIL`` rows. Three
    queries, whatever the table's size; the first scrape after the cache is emptied counts
    everything once. Rows are never deleted here (a deleted appointment's reminders are), so a
    count that only grows is what a Prometheus counter wants.

    Counting the whole tables at each scrape was measured at 0.65 s on PostgreSQL 15 for 2 M
    appointment and 5 M diary reminders, and a chain's diary reminders grow by up to its patient
    count a day.
    """
    key = f"web.metrics.running_count:{name}"
    state = cache.get(key) or {"upto": 0, "counts": {}}
    upto, counts = int(state["upto"]), Counter[str](state["counts"])
    top = rows.aggregate(top=Max("pk"))["top"] or 0
    settled = max(upto, top - RUNNING_TAIL)
    if settled > upto:
        counts.update(_count_by(rows.filter(pk__gt=upto, pk__lte=settled), field))
        cache.set(key, {"upto": settled, "counts": dict(counts)}, timeout=None)
    counts.update(_count_by(rows.filter(pk__gt=settled), field))
    return dict(counts)


def _count_by(rows: QuerySet[Any], field: str | None) -> dict[str, int]:
    if field is None:
        return {"": rows.count()}
    grouped = rows.values(field).annotate(n=Count("pk")).order_by()
    return {str(row[field]): int(row["n"]) for row in grouped}


# --- the scrape -----------------------------------------------------------------------------


def multiprocess_dir() -> str | None:
    """The directory the web workers write their values to, when they run in multiprocess mode.
    prometheus_client reads the same variable when it is first imported."""
    return os.environ.get(MULTIPROC_ENV) or None


def scrape_registry() -> CollectorRegistry:
    """A registry for one scrape: this process's histogram (or every worker's, merged from
    their files), and the database's truths."""
    # No auto-describe: it would collect once more at registration, reading the database twice.
    registry = CollectorRegistry(auto_describe=False)
    directory = multiprocess_dir()
    if directory is not None:
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    else:
        registry.register(REQUEST_SECONDS)
    registry.register(DatabaseCollector())
    return registry


def scrape(accept: str) -> tuple[bytes, str]:
    """The metrics in the format the scraper asked for (``Accept``), and its content type."""
    encoder, content_type = choose_encoder(accept)
    return encoder(scrape_registry()), content_type


def scrape_allowed(request: HttpRequest) -> bool | None:
    """``None`` when metrics are off (no ``METRICS_TOKEN``); else whether the request carries
    the token (compared in constant time)."""
    token = str(getattr(settings, "METRICS_TOKEN", "") or "")
    if not token:
        return None
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return secrets.compare_digest(given.strip().encode(), token.encode())


# --- several web workers --------------------------------------------------------------------


def multiprocess_environment(environ: Mapping[str, str], *, var_dir: Path) -> dict[str, str]:
    """The web server's environment with ``PROMETHEUS_MULTIPROC_DIR`` set (the operator's, or
    ``<var_dir>/metrics``) and that directory emptied and created.

    Call it before starting gunicorn, each time (a new server's counters start at zero; files
    left by the last one's workers would be added to them), and pass the result as gunicorn's
    environment. Only the web server needs it.
    """
    env = dict(environ)
    directory = Path(env.get(MULTIPROC_ENV) or var_dir / "metrics")
    directory.mkdir(parents=True, exist_ok=True)
    # Only the files prometheus_client writes: the operator may have named a shared directory.
    for stale in directory.glob("*.db"):
        stale.unlink()
    env[MULTIPROC_ENV] = str(directory)
    return env
