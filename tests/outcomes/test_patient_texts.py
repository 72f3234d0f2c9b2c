"""What patients are told about ketamine and repeated infusions: the education page, the landing
page, and the booster offer by email and on its page. Item 12 of
docs/clinical-policy.md "Gates along the journey (added 2026-12-03)";
evidence in docs/clinical-sources.md §1.1, §1.9, §2.1, §2.4."""

from __future__ import annotations

import re
from typing import Any

from django.core import mail
from django.test import Client
from django.urls import reverse

from tests.conftest import World
from tests.factories.outcomes import suggestion_for

REPEATED_RISKS = (
    "inflammation of the bladder and urinary tract",
    "liver injury",
    "misuse of and dependence on ketamine",
)
NEVER_PROMISED = ("will relieve", "guarantee", "cure")


def _words(html: str) -> str:
    """The text with tags dropped and whitespace folded, as a reader sees it."""
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


def test_the_education_page_names_the_risks_of_repeated_infusions_and_that_relief_fades(
    client: Client, db: None
) -> None:
    text = _words(client.get(reverse("learn_page", args=["ketamine-infusion"])).content.decode())
    for risk in REPEATED_RISKS:
        assert risk in text
    assert "Relief from ketamine infusions usually fades." in text
    assert "there is no evidence-based interval for boosters, and a booster may not help." in text
    assert "Ferraro MC et al., Cochrane Database Syst Rev 2025" in text
    assert "we cannot promise that they will help you" in text


def test_the_landing_page_states_the_evidence_as_the_policy_does(client: Client, db: None) -> None:
    text = _words(client.get(reverse("landing")).content.decode())
    assert (
        "ketamine infusions have moderate evidence only for complex regional pain syndrome "
        "(CRPS), with benefit lasting up to about 12 weeks. For other kinds of nerve pain the "
        "evidence is weak, and a 2025 Cochrane review found no clear benefit over placebo, with "
        "more side effects. We cannot promise relief;"
    ) in text
    for promise in NEVER_PROMISED:
        assert promise not in text.lower()


def test_the_booster_offer_email_says_a_booster_may_not_help(
    diary_world: World, django_capture_on_commit_callbacks: Any
) -> None:
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        suggestion_for(diary_world, approved=True)
    (message,) = mail.outbox
    body = " ".join(str(message.body).split())
    assert "A booster may not help." in body
    assert "Relief from ketamine infusions usually fades" in body
    assert "there is no evidence-based interval for boosters" in body
    for risk in REPEATED_RISKS:
        assert risk in body


def test_the_booster_offer_page_says_a_booster_may_not_help(
    diary_world: World, client_for: Any
) -> None:
    suggestion = suggestion_for(diary_world, approved=True)
    response = client_for("alice").get(
        reverse("outcomes:my_booster", kwargs={"public_id": suggestion.public_id})
    )
    text = _words(response.content.decode())
    assert response.status_code == 200
    assert (
        "A booster may not help. Relief from ketamine infusions usually fades, and there is no "
        "evidence-based interval for boosters."
    ) in text
    for risk in REPEATED_RISKS:
        assert risk in text
    assert reverse("learn_page", args=["ketamine-infusion"]) + "#repeated-infusions" in (
        response.content.decode()
    )
