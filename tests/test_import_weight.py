"""A web worker that serves ordinary pages loads none of the heavy libraries (issue 17).

matplotlib (with numpy under it, about 56 MiB of a worker), lifelines (with pandas and scipy,
about 135 MiB), fpdf2, Pillow and icalendar are imported inside the functions that draw a
chart, write a letter, check a logo or build an invite, never at the top of a module
(docs/benchmarks.md "Web worker memory"). Each check runs in a fresh interpreter, since this
test process has loaded them all long ago: it imports the web server's application, its URL
conf and every module of the product, signs people in and renders ordinary pages, then lists
what ``sys.modules`` holds. The three web charts are drawn by ``lib.plot`` (standard library
only): drawing them loads none of these, but for numpy, which the concentration chart's model
computes with. A control sets up a letter the way the task worker does (fpdf2, and matplotlib
for its fonts), so the check is seen to catch a heavy import when there is one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Top-level packages no ordinary page may load.
HEAVY = ("matplotlib", "numpy", "scipy", "pandas", "lifelines", "fpdf", "PIL", "icalendar")
#: Modules run from the command line only, never in a web worker: the invented data
#: (``ketaclinic seed``, ``ketaclinic demo``) generates with numpy, and the management commands
#: (``serve`` shows the demo log-ins) may import it.
COMMAND_LINE_ONLY = ("ketaclinic.devdata", ".management.commands.")

_PRELUDE = """
import json, os, pkgutil, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ketaclinic.settings")
from ketaclinic.wsgi import application  # what gunicorn loads: django.setup() and the apps
from django.urls import get_resolver

get_resolver().url_patterns  # the whole URL conf, and every view module it names


def loaded():
    heavy = set(json.loads(os.environ["HEAVY"]))
    return sorted({name.split(".")[0] for name in sys.modules} & heavy)
"""


def _run(code: str) -> list[str]:
    """The heavy packages loaded by ``code`` (run after the prelude in a fresh interpreter)."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        {
            "KETACLINIC_MODE": "test",
            "DATABASE_URL": "sqlite://:memory:",
            "HEAVY": json.dumps(HEAVY),
            "PYTHONPATH": str(ROOT / "src"),
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", _PRELUDE + textwrap.dedent(code) + "\nprint(json.dumps(loaded()))"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_application_and_every_module_of_the_product_load_no_heavy_library() -> None:
    loaded = _run(
        f"""
        import importlib

        skipped = {COMMAND_LINE_ONLY!r}


        def skipped_here(name):
            return any(part in name for part in skipped)



        def walk(name):
            # pkgutil.walk_packages would import the skipped packages to look inside them.
            package = importlib.import_module(name)
            for module in pkgutil.iter_modules(package.__path__, name + "."):
                if skipped_here(module.name):
                    continue
                if module.ispkg:
                    walk(module.name)
                else:
                    importlib.import_module(module.name)


        walk("ketaclinic")
        """
    )
    assert loaded == []


def test_ordinary_pages_for_visitors_patients_and_staff_load_no_heavy_library() -> None:
    loaded = _run(
        """
        from django.apps import apps
        from django.conf import settings
        from django.core.management import call_command
        from django.test import Client

        # Tables straight from the models: the in-memory database lives as long as this run.
        settings.MIGRATION_MODULES = {app.label: None for app in apps.get_app_configs()}
        call_command("migrate", run_syncdb=True, verbosity=0)

        from ketaclinic.accounts.models import Role, User
        from ketaclinic.clinics.models import Clinic, Location

        clinic = Clinic.objects.create(name="Lakeshore", slug="lakeshore")
        Location.objects.create(
            clinic=clinic, name="Cleveland", city="Cleveland", time_zone="America/New_York"
        )
        visitor = Client()
        pages = {
            None: ["/", "/learn/", "/self-check/", "/book/", "/accounts/login/", "/healthz"],
            Role.PHYSICIAN: ["/home/", "/staff/patients/", "/staff/patients/new/"],
            Role.FRONT_DESK: ["/home/", "/desk/schedule/", "/desk/bookings/"],
            Role.CLINIC_ADMIN: ["/home/", "/clinic/", "/clinic/audit/", "/clinic/settings/"],
        }
        for role, paths in pages.items():
            client = visitor
            if role is not None:
                # A demo account: the second factor is not asked of one on a test server.
                user = User.objects.create_user(
                    f"{role}@example.test", "x" * 16, role=role, clinic=clinic, is_demo=True
                )
                client = Client()
                client.force_login(user)
            for path in paths:
                response = client.get(path)
                assert response.status_code == 200, (role, path, response.status_code)
        """
    )
    assert loaded == []


def test_drawing_the_pain_and_kaplan_meier_charts_loads_no_heavy_library() -> None:
    # The charts are drawn by ``lib.plot`` (standard library only), the patient's and the
    # clinician's pain chart with every kind of mark, the KM chart from a curve made by hand
    # (``selectors.kaplan_meier`` computes with numpy; the drawing must not need it).
    loaded = _run(
        """
        import datetime as dt

        from ketaclinic.analytics.charts import km_chart_svg
        from ketaclinic.analytics.selectors import Curve
        from ketaclinic.outcomes.diary.charts import pain_chart_svg
        from ketaclinic.outcomes.selectors import SeriesSpan

        day = dt.date(2026, 3, 2)
        days = [day + dt.timedelta(days=n) for n in range(40)]
        history = dict(
            nrs=[(d, 7.0 - n / 10) for n, d in enumerate(days)],
            peg=[(d, 6.0) for d in days[::7]],
            series=[SeriesSpan(start=days[3], end=days[7], sessions=tuple(days[3:8]))],
            baseline=7.2,
            threshold=5.0,
            relapses=[days[30]],
            today=days[-1],
        )
        drawn = [pain_chart_svg(**history), pain_chart_svg(**history, wide=True)]
        curve = Curve(
            label="All series",
            timeline=[14.0, 30.0, 45.0],
            survival=[0.75, 0.75, 0.0],
            at_risk=[(0, 4), (4, 2), (8, 0)],
            events=3,
            censored=1,
            median_days=45.0,
            censor_marks=[(30.0, 0.75)],
        )
        drawn.append(km_chart_svg([curve]))
        assert all(svg.startswith("<svg") and 'id="legend"' in svg for svg in drawn)
        """
    )
    assert loaded == []


def test_the_concentration_chart_loads_numpy_for_the_model_and_no_drawing_library() -> None:
    loaded = _run(
        """
        from ketaclinic.clinical import pk
        from ketaclinic.plans.charts import concentration_chart_svg

        planned = [pk.infusion_segment(start_min=0, duration_min=40, rate_mg_per_h=52.5)]
        svg = concentration_chart_svg(
            segments=[(0.0, 20.0, 0.875), (20.0, 60.0, 0.4375)],
            weight_kg=70,
            compare_segments=planned,
        )
        assert 'id="curve-compare"' in svg
        """
    )
    # numpy is the clinical core's (``pk.simulate``), not the chart's.
    assert loaded == ["numpy"]


def test_the_letter_loads_fpdf2_and_matplotlib_as_the_control() -> None:
    # The task worker draws letters: fpdf2, and matplotlib for the DejaVu fonts it ships. That
    # this is seen shows the checks above would catch a heavy import.
    loaded = _run(
        """
        from ketaclinic.outcomes.letters import pdf

        assert "matplotlib" not in sys.modules
        letter = pdf._new_letter("control")
        pdf._fonts(letter)
        letter.add_page()
        letter.set_font(pdf.FONT, size=10)
        letter.cell(0, 5, "Zo\u00eb")
        assert bytes(letter.output()).startswith(b"%PDF")
        """
    )
    assert {"fpdf", "matplotlib"} <= set(loaded)
