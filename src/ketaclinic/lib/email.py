"""The one place an email is built (``clinic_email``; the caller sends it).

Every sender in the apps (appointment emails, booster and diary reminders, staff invitations,
allauth's account emails) passes the clinic's brand in as the ``sender``: the From header with
the clinic's name, and the body closed by the clinic's signature; subjects carry no product
prefix. ``lib`` imports no app, so the brand arrives as any object with those two attributes
(``clinics.api.clinic_brand`` returns one).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.utils import formataddr, parseaddr
from typing import Protocol

from django.core.mail import EmailMessage

# Characters that make a display name need quoting in an address header (RFC 5322 "specials").
_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')


def sender_address(name: str, address: str) -> str:
    """``Name <address>``, the name quoted when it holds a comma, a full stop or the like.

    Non-ASCII names are left as they are: Django encodes the header when it sends."""
    name = " ".join(name.split())
    if not name:
        return address
    if name.isascii():
        return formataddr((name, address))
    if _SPECIALS.search(name):
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}" <{address}>'
    return f"{name} <{address}>"


def address_of(header: str) -> str:
    """The bare address in a ``Name <address>`` header (or the header itself when bare)."""
    return parseaddr(header)[1] or header.strip()


def signature(name: str, address_lines: Sequence[str], phone: str) -> str:
    """The lines that close every email: the clinic's name, postal address and phone."""
    lines = [name, *address_lines]
    if phone:
        lines.append(f"Phone: {phone}")
    return "\n".join(["-- ", *lines])


def signed_body(body: str, signature_text: str) -> str:
    return f"{body.rstrip()}\n\n{signature_text}\n"


class Sender(Protocol):
    """Who an email is from: the clinic's brand (``clinics.api.ClinicBrand``) fits."""

    @property
    def from_email(self) -> str: ...

    @property
    def signature(self) -> str: ...


def clinic_email(
    *,
    sender: Sender,
    subject: str,
    body: str,
    to: Sequence[str],
    reply_to: Sequence[str] = (),
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """The message, built; the caller sends it (``.send()``), after attaching an invitation or
    the like where it needs to."""
    return EmailMessage(
        subject=" ".join(subject.split()),
        body=signed_body(body, sender.signature),
        from_email=sender.from_email,
        to=list(to),
        reply_to=list(reply_to),
        headers=headers,
    )
