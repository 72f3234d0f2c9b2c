"""Abstract models shared by apps (no table, no migration of their own)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SingleUseLink(models.Model):
    """The columns every emailed single-use link has; ``ketaclinic.lib.links`` works on them.

    The URL carries only a signed ``nonce``; the concrete model adds what the link may do. The
    columns are the ones ``scheduling.ActionLink`` and ``outcomes.DiaryLink`` already had, so
    moving them here changed no table.
    """

    nonce = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class Addendum(models.Model):
    """A correction or late note added to a signed record, which itself never changes.

    The concrete model adds the record it belongs to (``related_name="addenda"``) and its own
    ordering and non-empty-text constraint.
    """

    text = models.TextField(max_length=4000)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"Addendum {self.created_at:%Y-%m-%d %H:%M}"


class SignedRecord(models.Model):
    """The columns of a record a clinician signs: once signed it never changes (corrections are
    addenda). The concrete model adds its constraint tying the signature to its status."""

    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None
