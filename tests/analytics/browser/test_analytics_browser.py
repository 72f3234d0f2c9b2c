"""A physician reads the clinic analytics of seeded data in Chromium: the responder rates, the
Kaplan-Meier chart with its numbers at risk, a location filter, the CSV download, and the page on a
phone without sideways scrolling."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from ketaclinic.clinics.models import Location
from ketaclinic.devdata.demo import load_demo
from ketaclinic.devdata.seeding import seed_clinic
from ketaclinic.outcomes.models import SeriesResult
from tests.analytics.helpers import TODAY
from tests.plugins.browser import DESKTOP, PHONE, sign_in_demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_physician_reads_filters_and_exports_the_analytics(
    live_server: Any, page: Page, tmp_path: Path
) -> None:
    clinic = load_demo()
    seed_clinic(clinic=clinic, patients=40, years=1, seed=3, today=TODAY)
    seeded = SeriesResult.objects.filter(clinic=clinic, patient__mrn__startswith="S3-")
    cleveland = Location.objects.get(clinic=clinic, name="Cleveland")
    in_cleveland = SeriesResult.objects.filter(clinic=clinic, location=cleveland).count()
    everywhere = SeriesResult.objects.filter(clinic=clinic).count()
    assert seeded.count() >= 35
    assert 0 < in_cleveland < everywhere

    page.set_viewport_size(DESKTOP)
    sign_in_demo(page, live_server.url, "physician")
    page.get_by_role("link", name="Analytics").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Clinic analytics")
    expect(page.get_by_role("heading", name="Responder rate by cause")).to_be_visible()
    expect(page.get_by_test_id("computed-at")).to_contain_text("Figures as of")
    chart = page.get_by_role("img", name=re.compile("^Kaplan-Meier curves"))
    expect(chart).to_be_visible()
    relieved = (
        seeded.filter(responded=True).count()
        + SeriesResult.objects.filter(clinic=clinic, responded=True).exclude(pk__in=seeded).count()
    )
    # Every relieved series is at risk at week 0, drawn under the 0 tick and in the table.
    expect(chart.locator("#km-at-risk-0-0")).to_have_text(str(relieved))
    page.get_by_text("Show the numbers at risk as a table").click()
    at_risk = page.get_by_role("row", name=re.compile("^All series"))
    expect(at_risk.get_by_role("cell").first).to_have_text(str(relieved))

    # Only Cleveland's series once the filter is applied.
    page.get_by_label("Location").select_option(label="Cleveland")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(
        f"{live_server.url}/clinic/analytics/?date_from=&date_to=&location={cleveland.pk}"
    )
    by_cause = page.locator("table").first
    total = sum(
        int(cell) for cell in by_cause.locator("tbody tr td:nth-child(2)").all_inner_texts()
    )
    assert total == in_cleveland

    # The CSV download holds the same series, one line each, without names.
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV (one line per series)").click()
    target = tmp_path / "analytics.csv"
    info.value.save_as(target)
    rows = list(csv.reader(io.StringIO(target.read_text())))
    assert len(rows) - 1 == in_cleveland
    assert not any("S3-" in cell for row in rows for cell in row)

    # On a phone the page scrolls down, not sideways (tables scroll inside their frame).
    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Clinic analytics")
    assert page.evaluate("document.documentElement.scrollWidth > window.innerWidth") is False
