"""Abstract models shared by apps (no table, no migration of their own)."""

from __future__ import annotations

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
