"""The education pages: public, in the project's words, linked from the self-check and home."""

from __future__ import annotations

import pytest
from django.test import Client

from ketaclinic.screening.views import LEARN_PAGES
from tests.screening.helpers import positive_data, walk

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("slug", list(LEARN_PAGES))
def test_each_page_opens_with_its_title(client: Client, slug: str) -> None:
    response = client.get(f"/learn/{slug}/")
    assert response.status_code == 200
    assert f"<h1>{LEARN_PAGES[slug]}</h1>" in response.content.decode()


def test_an_unknown_page_is_not_found(client: Client) -> None:
    assert client.get("/learn/miracle-cure/").status_code == 404


def test_the_index_lists_every_page(client: Client) -> None:
    html = client.get("/learn/").content.decode()
    for slug in LEARN_PAGES:
        assert f'href="/learn/{slug}/"' in html


def test_the_causes_page_covers_each_cause(client: Client) -> None:
    html = client.get("/learn/causes/").content.decode()
    for cause in ("Diabetes", "Multiple sclerosis", "Shingles", "Nerve injury", "Syphilis"):
        assert f"<h2>{cause}</h2>" in html
    assert "no cause is found" in html


def test_the_management_page_covers_the_whole_plan(client: Client) -> None:
    html = client.get("/learn/managing-pain/").content.decode()
    for way in (
        "antidepressants",
        "anticonvulsants",
        "Opioids",
        "Physical therapy",
        "Massage",
        "acupuncture",
        "CBT",
        "Mindfulness",
        "Exercise",
        "Diet",
    ):
        assert way in html


def test_the_ketamine_page_explains_the_exam_exclusions_and_honest_evidence(
    client: Client,
) -> None:
    html = client.get("/learn/ketamine-infusion/").content.decode()
    assert "eligibility exam" in html
    assert "high blood pressure that is not under control" in html
    assert "drug or alcohol misuse" in html
    assert "2025 Cochrane review found no clear benefit over placebo" in html
    assert "we cannot promise that they will help you" in html


@pytest.mark.parametrize("url", ["/", "/self-check/", "/self-check/feel/"])
def test_the_home_page_and_the_self_check_link_to_the_education_pages(
    client: Client, url: str
) -> None:
    assert 'href="/learn/"' in client.get(url).content.decode()


def test_the_home_page_links_to_the_self_check(client: Client) -> None:
    assert 'href="/self-check/"' in client.get("/").content.decode()


def test_the_result_links_to_every_education_page(client: Client) -> None:
    walk(client, positive_data())
    html = client.get("/self-check/result/").content.decode()
    for slug in LEARN_PAGES:
        assert f'href="/learn/{slug}/"' in html
