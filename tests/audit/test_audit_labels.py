"""The audit trail in words (issue 16 item 9): one mapping (``audit/labels.py``) covers every
action and every object type the code writes; the page shows sentences with the codes beside
them, filters in words, and its query count does not grow with the events shown."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

import ketaclinic
from ketaclinic.audit import labels
from ketaclinic.audit.models import Action, AuditEvent
from ketaclinic.audit.services import Actor, audit_record
from tests.conftest import World

SOURCE = Path(ketaclinic.__file__).parent
# object_type="...", OBJECT_TYPE = "...", purge_audit_type="..." in the package's code.
WRITTEN = re.compile(r'(?:object_type=|OBJECT_TYPE = |purge_audit_type=)"([a-z_]+)"')


def written_object_types() -> set[str]:
    found: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        found.update(WRITTEN.findall(path.read_text()))
    return found


def test_every_action_reads_as_words() -> None:
    for action in Action.values:
        assert (action in labels.VERBS) != (action in labels.ACCOUNT_EVENTS), action


def test_every_object_type_the_code_writes_reads_as_words() -> None:
    written = written_object_types()
    assert "eligibility_decision" in written  # the scan finds them
    assert sorted(written - set(labels.OBJECTS)) == []


@pytest.mark.parametrize(
    ("action", "object_type", "words"),
    [
        ("sign", "eligibility_decision", "Signed the eligibility decision"),
        ("read", "patient_chart", "Viewed the patient chart"),
        ("update", "consultation", "Changed the consultation"),
        ("login", "user", "Signed in"),
        # A code the table does not know yet still reads as words, never as a bare code.
        ("read", "new_thing", "Viewed new thing"),
    ],
)
def test_an_event_reads_as_a_sentence(action: str, object_type: str, words: str) -> None:
    assert labels.describe(action, object_type) == words


def test_field_codes_read_as_words() -> None:
    assert labels.field_words(["pain_duration_months", "spo2", "mrn"]) == (
        "pain duration months, SpO2, record number"
    )


pytestmark = pytest.mark.django_db


def _events(world: World, n: int) -> None:
    with transaction.atomic():
        for i in range(n):
            audit_record(
                actor=Actor(user=world.physician),
                action=Action.SIGN if i % 2 else Action.UPDATE,
                object_type="eligibility_decision" if i % 2 else "consultation",
                patient=world.alice_patient,
                detail={"section": "history", "fields": ["pain_duration_months", "spo2"]},
            )


def test_the_audit_page_shows_events_in_words_with_their_codes(
    client_for: Any, world: World
) -> None:
    _events(world, 2)
    page = client_for("clinic_admin").get("/clinic/audit/").content.decode()
    assert 'title="sign · eligibility_decision">Signed the eligibility decision</td>' in page
    assert "Changed the consultation" in page
    assert "History section: pain duration months, SpO2" in page
    assert "<td>Physician</td>" in page
    # The codes stay available beside the words.
    assert '<code class="code">update · consultation</code>' in page
    # The filters speak words too; their values are the codes.
    assert '<option value="eligibility_decision">Eligibility decision</option>' in page
    assert '<option value="sign">Signed</option>' in page


def test_the_audit_page_filters_by_record_in_words(client_for: Any, world: World) -> None:
    _events(world, 2)
    client = client_for("clinic_admin")
    page = client.post(
        "/clinic/audit/", {"object_type": "eligibility_decision"}, follow=True
    ).content.decode()
    assert "Signed the eligibility decision" in page
    assert "Changed the consultation" not in page


def test_an_unknown_record_filter_is_refused_naming_the_field(
    client_for: Any, world: World
) -> None:
    client = client_for("clinic_admin")
    before = AuditEvent.objects.count()
    response = client.post("/clinic/audit/", {"object_type": "no_such_thing"})
    assert response.status_code == 422
    assert "Record" in response.content.decode()
    assert "no_such_thing is not one of the available choices" in response.content.decode()
    # Nothing listed, so nothing read: no event written; no filter kept.
    assert AuditEvent.objects.count() == before
    assert "audit.filters" not in client.session


def test_the_audit_page_in_words_keeps_a_flat_query_count(
    client_for: Any, world: World, django_assert_num_queries: Any
) -> None:
    client = client_for("clinic_admin")
    client.get("/clinic/audit/")  # warm the session
    _events(world, 3)
    # As test_audit_trail: session, user, savepoint, capped count, events, chain head lock,
    # insert, move, release. Words come from tables in memory.
    with django_assert_num_queries(9):
        client.get("/clinic/audit/")
    _events(world, 40)
    with django_assert_num_queries(9):
        client.get("/clinic/audit/")
