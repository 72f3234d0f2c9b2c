"""Measure the memory of the web workers after a full walk of the product, as `serve` runs it.

The walk is what a clinic's day does to a worker: on a fresh demo database (``ketaclinic demo``,
SQLite, the demo's two and a half years of history) it starts the real ``ketaclinic serve``
(gunicorn and the task worker, the way an operator starts them), signs in as every demo role
(physician, nurse, front desk, clinic admin, the two portal patients) and opens every page a
link leads to, breadth first from each role's home, a few of each route (the route's name
dedupes: the chart of one patient is the chart of all), plus the pages that draw: each
patient's pain chart (phone and wide), the plan's and the infusion day's concentration charts,
the analytics page's Kaplan-Meier chart and its CSV, and a progress letter (requested through
its form, drawn by the task worker, then downloaded from a web worker). It reads each process's
memory from ``/proc/<pid>/smaps_rollup`` before and after the walk:

- RSS: the pages resident in memory, shared ones counted in full in every process;
- PSS: shared pages divided among the processes sharing them (the honest share of a worker
  when gunicorn forks workers from one master);
- USS: pages only this process has (what stopping it would give back).

It also lists which heavy libraries each process has mapped (the shared objects of numpy,
matplotlib, PIL, pandas, scipy, ... in ``/proc/<pid>/maps``): a worker that never drew must
show none of the drawing libraries.

Run from the repository root (a few minutes; ``--reuse DIR`` keeps the demo database of an
earlier run in DIR):

    .venv/bin/python bench/memory_bench.py    # the ordinary walk, then the full with 1 and 2
    .venv/bin/python bench/memory_bench.py --workers 2 --no-write

Only the text between ``<!-- memory-bench:start -->`` and ``<!-- memory-bench:end -->`` in
docs/benchmarks.md is rewritten. The exit status is 1 when a web worker holds more than
120 MiB (RSS) after the walk.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.cookiejar
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- memory-bench:start -->", "<!-- memory-bench:end -->"
GOAL_MIB = 120.0
# The demo's published password (devdata.demo.DEMO_PASSWORD), no secret.
PASSWORD = "ketaclinic-demo"  # noqa: S105
DOMAIN = "demo.ketaclinic.test"
ROLES = ("physician", "nurse", "frontdesk", "admin", "alice", "bob")
ANONYMOUS = "anonymous"
# How many pages of one route (and one set of query keys) a role opens: enough to meet the
# route's variants (a patient with a plan, one without), not every patient of the clinic.
PER_ROUTE = 3
MAX_PAGES_PER_ROLE = 600
# Libraries that cost memory when imported, by the directory their shared objects live in.
HEAVY = (
    "numpy",
    "matplotlib",
    "PIL",
    "pandas",
    "scipy",
    "lifelines",
    "autograd",
    "fontTools",
    "kiwisolver",
    "contourpy",
)
# The pages that draw a chart in the web worker (with ``lib.plot``; matplotlib before): the
# ordinary walk leaves them out, and must then load none of the drawing libraries.
DRAWING_ROUTES = frozenset(
    {
        "outcomes:staff_patient_diary",
        "outcomes:my_diary",
        "plans:plan_detail",
        "plans:protocol_edit",
        "infusions:session",
        "analytics:clinic",
    }
)
# Links the walk never follows: sign-out (it would end the walk), the operator's admin, files.
_SKIP = re.compile(r"^/(accounts/logout/|operator/|static/|media/)")


# --- processes and their memory -------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    rss_kib: int
    pss_kib: int
    uss_kib: int

    @staticmethod
    def mib(kib: int) -> str:
        return f"{kib / 1024:.0f}"


def memory_of(pid: int) -> Memory:
    """RSS, PSS and USS of a process (``/proc/<pid>/smaps_rollup``, kB)."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        fields[name.strip()] = int(rest.split()[0])
    return Memory(
        rss_kib=fields["Rss"],
        pss_kib=fields["Pss"],
        uss_kib=fields["Private_Clean"] + fields["Private_Dirty"],
    )


def heavy_libraries(pid: int) -> list[str]:
    """The heavy libraries whose files the process has mapped (their shared objects)."""
    found = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        path = line.split(maxsplit=5)[-1] if line.count(" ") >= 5 else ""
        marker = "site-packages/"
        if marker in path:
            top = path.split(marker, 1)[1].split("/", 1)[0]
            top = top.removesuffix(".libs")  # numpy.libs, pillow.libs: the bundled C libraries
            for name in HEAVY:
                if top == name or top.lower() == name.lower() or top == f"{name.lower()}":
                    found.add(name)
            if top == "pillow":
                found.add("PIL")
    return sorted(found)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def command_of(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()


@dataclass
class Tree:
    """The processes ``serve`` started: itself, gunicorn's master and workers, the task worker."""

    supervisor: int
    master: int
    web_workers: list[int]
    task_worker: int | None

    def named(self) -> Iterator[tuple[str, int]]:
        yield "serve (supervisor)", self.supervisor
        yield "gunicorn master", self.master
        for number, pid in enumerate(self.web_workers, start=1):
            yield f"web worker {number}", pid
        if self.task_worker is not None:
            yield "task worker", self.task_worker


def process_tree(supervisor: int, workers: int, timeout: float = 60.0) -> Tree:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = children_of(supervisor)
        masters = [p for p in kids if "gunicorn" in command_of(p)]
        tasks = [p for p in kids if p not in masters]
        if masters:
            web = children_of(masters[0])
            if len(web) == workers:
                return Tree(supervisor, masters[0], web, tasks[0] if tasks else None)
        time.sleep(0.3)
    raise RuntimeError("serve did not start its processes in time")


# --- a browser without a browser ------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._form: tuple[str, dict[str, str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form" and a.get("method", "get").lower() == "post":
            self._form = (a.get("action", ""), {})
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None and a.get("name"):
            self._form[1][a["name"]] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def parse(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Page:
    status: int
    url: str
    content_type: str
    body: bytes
    location: str = ""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Browser:
    """Cookies and CSRF as a browser keeps them; redirects are followed by hand."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def _open(self, request: urllib.request.Request) -> Page:
        try:
            with self.opener.open(request, timeout=120) as response:
                return Page(
                    response.status,
                    response.url,
                    response.headers.get("Content-Type", ""),
                    response.read(),
                )
        except urllib.error.HTTPError as error:
            return Page(
                error.code,
                request.full_url,
                error.headers.get("Content-Type", ""),
                error.read(),
                error.headers.get("Location", ""),
            )

    def get(self, path: str) -> Page:
        # Only ever http://127.0.0.1:<port>/ joined with a path of the site.
        return self._open(urllib.request.Request(urllib.parse.urljoin(self.base, path)))  # noqa: S310

    def post(self, path: str, data: dict[str, str], referer: str) -> Page:
        body = urllib.parse.urlencode(data).encode()
        request = urllib.request.Request(  # noqa: S310  (the local server, as in get)
            urllib.parse.urljoin(self.base, path),
            data=body,
            headers={"Referer": urllib.parse.urljoin(self.base, referer)},
        )
        return self._open(request)

    def follow(self, path: str) -> Page:
        page = self.get(path)
        for _ in range(5):
            if page.status not in (301, 302, 303) or not page.location:
                break
            page = self.get(page.location)
        return page

    def post_form(self, page_path: str, action_contains: str, extra: dict[str, str]) -> Page:
        """Send the page's POST form whose action contains ``action_contains``, as drawn."""
        page = self.follow(page_path)
        for action, fields in parse(page.text).forms:
            target = urllib.parse.urljoin(page_path, action or page_path)
            if action_contains in target:
                return self.post(target, {**fields, **extra}, referer=page_path)
        raise RuntimeError(f"no form posting to {action_contains!r} on {page_path}")


def sign_in(base: str, email: str) -> Browser:
    browser = Browser(base)
    page = browser.post_form(
        "/accounts/login/", "/accounts/login/", {"login": email, "password": PASSWORD}
    )
    if page.status != 302:
        raise RuntimeError(f"{email} could not sign in ({page.status})")
    return browser


# --- the walk -------------------------------------------------------------------------------


@dataclass
class Walk:
    pages: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    routes: dict[str, set[str]] = field(default_factory=dict)  # route name -> roles that opened it
    seconds: float = 0.0

    def saw(self, route: str, role: str, status: int) -> None:
        self.pages += 1
        self.by_status[status] += 1
        if status == 200:
            self.routes.setdefault(route, set()).add(role)


def _route_of(path: str) -> str:
    from django.urls import Resolver404, resolve

    try:
        match = resolve(urllib.parse.urlsplit(path).path)
    except Resolver404:
        return ""
    return str(match.view_name)


def crawl(
    browser: Browser, role: str, walk: Walk, extra: Sequence[str] = (), *, drawing: bool = True
) -> list[str]:
    """Every page reachable by links from the role's home (``PER_ROUTE`` of each route; without
    ``drawing``, none of ``DRAWING_ROUTES``); returns the paths opened."""
    seen_keys: Counter[tuple[str, frozenset[str]]] = Counter()
    seen_paths: set[str] = set()
    opened: list[str] = []
    queue: deque[str] = deque(["/home/", "/", *extra])
    while queue and len(opened) < MAX_PAGES_PER_ROLE:
        path = queue.popleft()
        split = urllib.parse.urlsplit(path)
        if path in seen_paths or _SKIP.match(split.path):
            continue
        seen_paths.add(path)
        route = _route_of(path)
        if not route or route.startswith("admin:") or (not drawing and route in DRAWING_ROUTES):
            continue
        key = (route, frozenset(urllib.parse.parse_qs(split.query)))
        if seen_keys[key] >= PER_ROUTE and path not in extra:
            continue
        seen_keys[key] += 1
        page = browser.get(path)
        walk.saw(route, role, page.status)
        opened.append(path)
        if page.status in (301, 302, 303) and page.location:
            queue.appendleft(urllib.parse.urljoin(path, page.location))
        if page.status != 200 or "html" not in page.content_type:
            continue
        for href in parse(page.text).links:
            url = urllib.parse.urlsplit(urllib.parse.urljoin(browser.base + path, href))
            if url.netloc and url.netloc != urllib.parse.urlsplit(browser.base).netloc:
                continue
            queue.append(url.path + (f"?{url.query}" if url.query else ""))
    return opened


def _plain_routes() -> list[str]:
    """Every route that takes no argument (a role opens each: its answer is the role's)."""
    from django.urls import NoReverseMatch, reverse

    paths = []
    for name in sorted(_project_routes()):
        try:
            path = reverse(name)
        except NoReverseMatch:
            continue
        if not _SKIP.match(path):
            paths.append(path)
    return paths


def _drawing_pages() -> dict[str, list[str]]:
    """The pages that draw, found in the database: every patient's diary (phone and wide chart),
    the signed plans and the infusion sessions (concentration charts), analytics (KM)."""
    from ketaclinic.infusions.models import InfusionSession
    from ketaclinic.outcomes.models import DiaryEntry
    from ketaclinic.plans.models import Plan

    with_diary = list(
        DiaryEntry.objects.order_by().values_list("patient__public_id", flat=True).distinct()[:12]
    )
    plans = list(Plan.objects.filter(status="signed").values_list("public_id", flat=True)[:8])
    sessions = list(
        InfusionSession.objects.exclude(started_at=None)
        .order_by("-started_at")
        .values_list("public_id", flat=True)[:8]
    )
    from django.urls import reverse

    staff = [reverse("outcomes:staff_patient_diary", args=[p]) for p in with_diary]
    staff += [reverse("plans:plan_detail", args=[p]) for p in plans]
    staff += [reverse("infusions:session", args=[s]) for s in sessions]
    staff += [reverse("analytics:clinic"), reverse("analytics:clinic") + "?date_from=2025-01-01"]
    patient = ["/me/diary/", "/me/plan/"]
    return {"physician": staff, "nurse": staff[: len(with_diary)], "alice": patient, "bob": patient}


def request_letter(browser: Browser, walk: Walk) -> str | None:
    """Ask for a progress letter on the first diary patient, wait for the worker, download it."""
    from ketaclinic.outcomes.models import DiaryEntry

    public_id = DiaryEntry.objects.values_list("patient__public_id", flat=True).first()
    if public_id is None:
        return None
    from django.urls import reverse

    letters = reverse("outcomes:staff_patient_letters", args=[public_id])
    browser.post_form(letters, letters, {})
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        page = browser.get(letters)
        pdf = next((h for h in parse(page.text).links if "/letters/" in h and "pdf" in h), None)
        if pdf:
            got = browser.get(pdf)
            walk.saw(_route_of(pdf), "physician", got.status)
            return got.content_type if got.status == 200 else f"HTTP {got.status}"
        time.sleep(1)
    return "not drawn within 180 s"


# --- the run --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _manage(args: Sequence[str], env: dict[str, str]) -> str:
    done = subprocess.run(  # noqa: S603  (fixed argv, no shell)
        [sys.executable, "-m", "ketaclinic.manage", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return done.stdout


def environment(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        {
            "KETACLINIC_MODE": "demo",
            "KETACLINIC_VAR_DIR": str(folder),
            "DATABASE_URL": f"sqlite:///{folder / 'demo.sqlite3'}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def prepare(folder: Path, env: dict[str, str]) -> None:
    """Migrate (a reused database too: the code may have moved on), then load the demo once."""
    fresh = not (folder / "demo.sqlite3").exists()
    for args in (["migrate", "--noinput"], ["createcachetable"], ["collectstatic", "--noinput"]):
        _manage(args, env)
    if fresh:
        _manage(["demo"], env)


@dataclass
class Run:
    walk_kind: str  # "full" or "ordinary" (every page but those that draw)
    workers: int
    before: dict[str, Memory]
    after: dict[str, Memory]
    libraries: dict[str, list[str]]
    walk: Walk
    letter: str | None
    routes_total: int
    routes_missed: list[str]


def _wait_until_serving(base: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("serve stopped while starting")
        try:
            with urllib.request.urlopen(base + "/", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("serve did not answer in time")


def _project_routes() -> set[str]:
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns: list[Any], namespace: str = "") -> Iterator[str]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern):
                yield f"{namespace}:{pattern.name}" if namespace else str(pattern.name)

    return {name for name in walk(get_resolver().url_patterns) if not name.startswith("admin:")}


def measure(folder: Path, env: dict[str, str], workers: int, *, drawing: bool = True) -> Run:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "ketaclinic.manage",
            "serve",
            *("--port", str(port)),
            *("--workers", str(workers)),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_until_serving(base, server)
        tree = process_tree(server.pid, workers)
        time.sleep(2)  # the task worker's start-up (periodic jobs) settles
        before = {name: memory_of(pid) for name, pid in tree.named()}
        walk = Walk()
        began = time.monotonic()
        charts = _drawing_pages()
        plain = _plain_routes()
        letter: str | None = None
        crawl(Browser(base), ANONYMOUS, walk, plain, drawing=drawing)
        for role in ROLES:
            browser = sign_in(base, f"{role}@{DOMAIN}")
            pages = [*(charts.get(role, ()) if drawing else ()), *plain]
            crawl(browser, role, walk, pages, drawing=drawing)
            if role == "physician":
                letter = request_letter(browser, walk)
        walk.seconds = time.monotonic() - began
        time.sleep(1)
        after = {name: memory_of(pid) for name, pid in tree.named()}
        libraries = {name: heavy_libraries(pid) for name, pid in tree.named()}
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    routes = _project_routes()
    return Run(
        walk_kind="full" if drawing else "ordinary",
        workers=workers,
        before=before,
        after=after,
        libraries=libraries,
        walk=walk,
        letter=letter,
        routes_total=len(routes),
        routes_missed=sorted(routes - set(walk.routes)),
    )


def _machine() -> str:
    cpu = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}"
    )


def web_worst(run: Run) -> Memory:
    workers = [m for name, m in run.after.items() if name.startswith("web worker")]
    return max(workers, key=lambda m: m.rss_kib)


def _statuses(walk: Walk) -> str:
    return ", ".join(f"{n} x {s}" for s, n in sorted(walk.by_status.items()))


def render(runs: Sequence[Run]) -> str:
    today = dt.datetime.now(dt.UTC).date().isoformat()
    full = next(run for run in runs if run.walk_kind == "full")
    lines = [
        f"_Generated by `bench/memory_bench.py` on {today}; rerun it rather than editing this "
        "section._",
        "",
        f"Machine: {_machine()}. Command: `.venv/bin/python bench/memory_bench.py` "
        "(a fresh demo database on SQLite, `ketaclinic demo`, served by `ketaclinic serve`).",
        "",
        f"The full walk: anonymous, then signed in as {', '.join(ROLES)}: every page a link "
        f"leads to from each role's home (at most {PER_ROUTE} of a route) and every route "
        "without arguments; every chart drawn (pain charts of 12 patients, concentration charts "
        "of 8 plans and 8 infusion sessions, the Kaplan-Meier chart with and without a filter); "
        "the analytics CSV; a progress letter requested, drawn by the task worker and "
        f"downloaded ({full.letter}). With one worker: {full.walk.pages} requests "
        f"({_statuses(full.walk)}) in {full.walk.seconds:.0f} s; {len(full.walk.routes)} of "
        f"{full.routes_total} routes answered 200 (the others need a token from an email, a "
        "record in another state, or answer only a POST). The ordinary walk is the same without "
        "the pages that draw (" + ", ".join(f"`{r}`" for r in sorted(DRAWING_ROUTES)) + ").",
        "",
        "MiB, just after start and after the walk. RSS counts shared pages in full in each "
        "process; PSS divides them among the processes sharing them; USS is what only that "
        "process holds. Heavy libraries: those whose files the process has mapped.",
        "",
        "| walk | web workers | process | RSS before | RSS after | PSS after | USS after "
        "| heavy libraries loaded |",
        "|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        for name, after in run.after.items():
            before = run.before[name]
            loaded = ", ".join(run.libraries[name]) or "none"
            lines.append(
                f"| {run.walk_kind} | {run.workers} | {name} | {Memory.mib(before.rss_kib)} "
                f"| {Memory.mib(after.rss_kib)} | {Memory.mib(after.pss_kib)} "
                f"| {Memory.mib(after.uss_kib)} | {loaded} |"
            )
    for run in runs:
        worst = web_worst(run)
        verdict = "met" if worst.rss_kib / 1024 <= GOAL_MIB else "**missed**"
        lines += [
            "",
            f"{run.walk_kind.capitalize()} walk, {run.workers} web worker(s): the largest holds "
            f"{worst.rss_kib / 1024:.0f} MiB RSS ({worst.pss_kib / 1024:.0f} PSS) after it; "
            f"goal (at most {GOAL_MIB:g} MiB): {verdict}.",
        ]
    if full.routes_missed:
        missed = ", ".join(f"`{name}`" for name in full.routes_missed)
        lines += ["", f"Routes the full walk did not open with a 200: {missed}."]
    return "\n".join(lines)


def write_section(body: str, doc: Path = DOC) -> None:
    """Replace only the text between this benchmark's markers (adding the section if absent)."""
    block = f"{START}\n{body}\n{END}"
    text = doc.read_text()
    if START in text and END in text:
        before, rest = text.split(START, 1)
        _, after = rest.split(END, 1)
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n## Web worker memory\n\n" + block + "\n"
    doc.write_text(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workers", type=int, action="append", help="web workers (repeatable; default 1 and 2)"
    )
    parser.add_argument("--full-only", action="store_true", help="skip the ordinary walk")
    parser.add_argument("--reuse", type=Path, help="keep the demo database in this folder")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="ketaclinic-memory-") as scratch:
        folder = (args.reuse or Path(scratch)).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        env = environment(folder)
        prepare(folder, env)
        # This process resolves the walk's paths to route names and finds records to open.
        os.environ.update(env)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ketaclinic.settings")
        import django

        django.setup()
        runs = [measure(folder, env, 1, drawing=False)] if not args.full_only else []
        runs += [measure(folder, env, n) for n in (args.workers or [1, 2])]
    body = render(runs)
    print(body)
    if not args.no_write:
        write_section(body)
        print(f"\nwrote {DOC.relative_to(ROOT)}")
    return 0 if all(web_worst(run).rss_kib / 1024 <= GOAL_MIB for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
