"""What every factory shares: the one password, a counter for unique names, and the actor a
service is called as. Kept apart so each app area's factories can use them without importing
one another."""

from __future__ import annotations

import itertools

from ketaclinic.accounts.models import User
from ketaclinic.audit.services import Actor

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


def next_number() -> int:
    """A number no other factory call in this process has had: for slugs, emails and MRNs."""
    return next(_seq)


def actor(user: User | None) -> Actor:
    """The user calling a service, from the loopback address a test client has."""
    return Actor(user=user, ip="127.0.0.1")
