"""The shared single-use link (``ketaclinic.lib.links``): a signed nonce, refused when tampered
with, expired, used, purged or presented for another purpose, and claimed once at most.

The kind under test is built here, on the diary link's table (the module owns no table of its
own), with its own salt and messages, so every refusal is told apart by its message.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.core import signing
from django.db import models, transaction
from django.utils import timezone

from ketaclinic.audit.models import AuditEvent
from ketaclinic.lib import links
from ketaclinic.lib.links import LinkError, LinkKind, LinkMessages
from ketaclinic.lib.models import SingleUseLink
from ketaclinic.outcomes.diary import links as diary_links
from ketaclinic.outcomes.models import DiaryLink
from ketaclinic.scheduling import links as action_links
from ketaclinic.scheduling.models import ActionLink, LinkAction
from tests.conftest import World

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
SALT = "tests.lib.links"
MESSAGES = LinkMessages(
    not_valid="test: not valid", expired="test: expired", used="test: used", spent="test: spent"
)


class Kind:
    """A link kind on the diary table."""

    def __init__(self, world: World, *, salt: str = SALT, max_age: dt.timedelta = 2 * DAY) -> None:
        self.world = world
        self.links: LinkKind[DiaryLink] = LinkKind(
            model=DiaryLink,
            salt=salt,
            max_age=max_age,
            messages=MESSAGES,
            purge_audit_type="test_link_purge",
        )

    def issue(self, *, expires_at: dt.datetime | None = None, instrument: str = "nrs") -> str:
        with transaction.atomic():
            return self.links.issue(
                expires_at=expires_at or timezone.now() + DAY,
                patient=self.world.alice_patient,
                instrument=instrument,
                entry_date=dt.date(2026, 3, 1),
            )


@pytest.fixture
def kind(world: World) -> Kind:
    return Kind(world)


def rows() -> list[tuple[Any, ...]]:
    """Every link row and its use, to show a refusal changed nothing."""
    return list(DiaryLink.objects.order_by("pk").values_list("pk", "nonce", "used_at"))


def row(token: str) -> DiaryLink:
    return DiaryLink.objects.get(nonce=signing.loads(token, salt=SALT))


def refused(call: Callable[[], object], message: str) -> None:
    with pytest.raises(LinkError) as caught:
        call()
    assert str(caught.value) == message


# --- issue and resolve -------------------------------------------------------------------------


def test_the_token_is_the_signed_nonce_and_resolves_to_its_row(kind: Kind) -> None:
    token = kind.issue()
    link = DiaryLink.objects.get()
    assert signing.loads(token, salt=SALT) == link.nonce
    assert len(link.nonce) >= 32  # 24 random bytes, URL-safe
    assert str(kind.world.alice_patient.public_id) not in token
    resolved = kind.links.resolve(token)
    assert (resolved.pk, resolved.patient_id, resolved.used_at) == (
        link.pk,
        kind.world.alice_patient.pk,
        None,
    )


def test_two_links_never_share_a_nonce(kind: Kind) -> None:
    assert kind.issue() != kind.issue()
    assert len(set(DiaryLink.objects.values_list("nonce", flat=True))) == 2


def test_resolve_uses_the_given_queryset(kind: Kind) -> None:
    token = kind.issue(instrument="peg")
    # A queryset that cannot see the row: the link is as good as purged.
    refused(
        lambda: kind.links.resolve(token, queryset=DiaryLink.objects.filter(instrument="nrs")),
        MESSAGES.spent,
    )
    found = kind.links.resolve(token, queryset=DiaryLink.objects.filter(instrument="peg"))
    assert found.instrument == "peg"


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: t.split(":")[0] + ":" + "x" * 27,
        lambda t: signing.dumps("made-up-nonce", salt=SALT + ".other"),
        lambda t: t[: len(t) // 2],
        lambda t: "not-a-token",
        lambda t: "",
    ],
    ids=["signature-edited", "signature-replaced", "other-salt", "cut-short", "garbage", "empty"],
)
def test_a_tampered_token_is_refused_and_changes_nothing(kind: Kind, tamper: Any) -> None:
    token = kind.issue()
    before = rows()
    refused(lambda: kind.links.resolve(tamper(token)), MESSAGES.not_valid)
    assert rows() == before


def test_a_nonce_signed_without_its_row_reads_as_purged(kind: Kind) -> None:
    kind.issue()
    refused(lambda: kind.links.resolve(signing.dumps("never-issued", salt=SALT)), MESSAGES.spent)


def test_a_link_of_another_kind_is_not_valid_here(kind: Kind, world: World) -> None:
    # Same table, another salt: the other kind's links do not resolve here, nor ours there.
    other = Kind(world, salt=SALT + ".other")
    theirs = other.issue()
    ours = kind.issue()
    before = rows()
    refused(lambda: kind.links.resolve(theirs), MESSAGES.not_valid)
    refused(lambda: other.links.resolve(ours), MESSAGES.not_valid)
    assert rows() == before
    assert kind.links.resolve(ours).pk == row(ours).pk


def test_a_link_for_another_purpose_of_the_same_kind_is_not_valid(kind: Kind) -> None:
    token = kind.issue(instrument="peg")
    refused(lambda: kind.links.resolve(token, expect={"instrument": "nrs"}), MESSAGES.not_valid)
    assert kind.links.resolve(token, expect={"instrument": "peg"}).instrument == "peg"


def test_the_purpose_is_checked_before_use_and_expiry(kind: Kind) -> None:
    # A used, expired link for another purpose says "not valid", not which of the three it is.
    token = kind.issue(expires_at=timezone.now() - DAY)
    DiaryLink.objects.update(used_at=timezone.now() - 2 * DAY)
    refused(lambda: kind.links.resolve(token, expect={"instrument": "peg"}), MESSAGES.not_valid)
    refused(lambda: kind.links.resolve(token), MESSAGES.used)


def test_appointment_and_diary_links_refuse_each_other(kind: Kind) -> None:
    """The two kinds the clinic emails: a nonce signed for one is never valid as the other."""
    with transaction.atomic():
        diary = diary_links.diary_link_issue(
            patient=kind.world.alice_patient, instrument="nrs", entry_date=dt.date(2026, 3, 1)
        )
    nonce = DiaryLink.objects.get().nonce
    as_appointment = signing.dumps(nonce, salt=action_links.SALT)
    before = rows()
    for action in LinkAction:
        refused(
            functools.partial(action_links.link_resolve, diary, action=action),
            action_links.NOT_VALID,
        )
    refused(lambda: diary_links.diary_link_resolve(as_appointment), diary_links.NOT_VALID)
    assert rows() == before
    assert diary_links.diary_link_resolve(diary).nonce == nonce


def test_a_link_expires_at_its_expiry_instant_whatever_the_time_zone(kind: Kind) -> None:
    expires = timezone.now() + HOUR
    token = kind.issue(expires_at=expires)
    second = dt.timedelta(seconds=1)
    # The same instants written in New York and Auckland time: only the instant counts.
    for tz in (
        dt.UTC,
        zoneinfo.ZoneInfo("America/New_York"),
        zoneinfo.ZoneInfo("Pacific/Auckland"),
    ):
        assert kind.links.resolve(token, now=(expires - second).astimezone(tz)).pk == row(token).pk
        at_expiry = expires.astimezone(tz)
        refused(functools.partial(kind.links.resolve, token, now=at_expiry), MESSAGES.expired)
    refused(lambda: kind.links.resolve(token, now=expires + DAY), MESSAGES.expired)
    assert row(token).used_at is None


def test_an_old_signature_has_expired_even_if_its_row_has_not(kind: Kind) -> None:
    # The signature's own age limit (2 days here) backs up the row's expiry.
    with time_machine.travel(timezone.now() - 3 * DAY, tick=False):
        token = kind.issue(expires_at=timezone.now() + 30 * DAY)
    before = rows()
    refused(lambda: kind.links.resolve(token), MESSAGES.expired)
    assert rows() == before


def test_a_used_link_is_refused(kind: Kind) -> None:
    token = kind.issue()
    kind.links.claim(kind.links.resolve(token))
    before = rows()
    refused(lambda: kind.links.resolve(token), MESSAGES.used)
    assert rows() == before


def test_a_purged_link_is_refused(kind: Kind) -> None:
    token = kind.issue()
    DiaryLink.objects.all().delete()
    refused(lambda: kind.links.resolve(token), MESSAGES.spent)


# --- claim -------------------------------------------------------------------------------------


def test_a_link_is_claimed_once_even_by_two_holders_of_the_same_row(kind: Kind) -> None:
    token = kind.issue()
    first, second = kind.links.resolve(token), kind.links.resolve(token)
    claimed_at = timezone.now()
    kind.links.claim(first, now=claimed_at)
    refused(lambda: kind.links.claim(second, now=claimed_at + HOUR), MESSAGES.used)
    assert row(token).used_at == claimed_at


def test_a_link_that_expired_after_it_was_resolved_is_not_claimed(kind: Kind) -> None:
    expires = timezone.now() + HOUR
    token = kind.issue(expires_at=expires)
    link = kind.links.resolve(token)
    refused(lambda: kind.links.claim(link, now=expires), MESSAGES.expired)
    assert row(token).used_at is None


def test_a_link_purged_after_it_was_resolved_is_not_claimed(kind: Kind) -> None:
    link = kind.links.resolve(kind.issue())
    DiaryLink.objects.all().delete()
    refused(lambda: kind.links.claim(link), MESSAGES.spent)


def test_a_claim_undone_with_its_transaction_leaves_the_link_usable(kind: Kind) -> None:
    token = kind.issue()

    def failing_action() -> None:
        with transaction.atomic():
            kind.links.claim(kind.links.resolve(token))
            raise RuntimeError("the action failed")

    with pytest.raises(RuntimeError, match="the action failed"):
        failing_action()
    assert kind.links.resolve(token).used_at is None


def test_retire_marks_only_the_unused_links_among_the_rows(kind: Kind) -> None:
    used_at = timezone.now() - DAY
    used, open_nrs, open_peg = kind.issue(), kind.issue(), kind.issue(instrument="peg")
    kind.links.claim(row(used), now=used_at)
    now = timezone.now()
    assert kind.links.retire(DiaryLink.objects.filter(instrument="nrs"), now=now) == 1
    assert (row(used).used_at, row(open_nrs).used_at, row(open_peg).used_at) == (
        used_at,
        now,
        None,
    )
    refused(lambda: kind.links.resolve(open_nrs), MESSAGES.used)


# --- purge -------------------------------------------------------------------------------------


def test_the_purge_deletes_links_used_or_expired_before_the_cutoff(kind: Kind) -> None:
    now = timezone.now()
    gone = [
        kind.issue(expires_at=now + DAY),  # used 31 days ago (set below)
        kind.issue(expires_at=now - 31 * DAY),  # expired 31 days ago, never used
    ]
    kept = [
        kind.issue(expires_at=now + DAY),  # usable
        kind.issue(expires_at=now + DAY),  # used 29 days ago (set below)
        kind.issue(expires_at=now - 29 * DAY),  # expired 29 days ago
    ]
    DiaryLink.objects.filter(pk=row(gone[0]).pk).update(used_at=now - 31 * DAY)
    DiaryLink.objects.filter(pk=row(kept[1]).pk).update(used_at=now - 29 * DAY)
    kept_ids = {row(t).pk for t in kept}

    assert kind.links.purge(older_than=30 * DAY, now=now) == 2

    assert set(DiaryLink.objects.values_list("pk", flat=True)) == kept_ids
    event = AuditEvent.objects.get(object_type="test_link_purge")
    assert (event.action, event.actor_id, event.detail) == (
        "delete",
        None,
        {"deleted": 2, "cutoff": (now - 30 * DAY).isoformat()},
    )
    # Idempotent: nothing more to delete, nothing more recorded.
    assert kind.links.purge(older_than=30 * DAY, now=now) == 0
    assert AuditEvent.objects.filter(object_type="test_link_purge").count() == 1


def test_the_purge_works_in_batches_of_the_given_size(kind: Kind) -> None:
    for _ in range(5):
        kind.issue(expires_at=timezone.now() - 60 * DAY)
    assert kind.links.purge(older_than=30 * DAY, batch=2) == 5
    assert DiaryLink.objects.count() == 0
    counts = [
        e.detail["deleted"]
        for e in AuditEvent.objects.filter(object_type="test_link_purge").order_by("id")
    ]
    assert counts == [2, 2, 1]
    assert links.PURGE_BATCH == 500


# --- one mechanism -----------------------------------------------------------------------------


def test_both_kinds_of_link_share_the_error_and_the_columns() -> None:
    assert action_links.LinkError is diary_links.LinkError is LinkError
    assert SingleUseLink._meta.abstract
    names = ("nonce", "created_at", "expires_at", "used_at")
    base = [_column(SingleUseLink, n) for n in names]
    for model in (DiaryLink, ActionLink):
        assert [_column(model, n) for n in names] == base


def _column(model: type[models.Model], name: str) -> tuple[object, ...]:
    """A field's definition (path, args, kwargs), without its name."""
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field.deconstruct()[1:]
