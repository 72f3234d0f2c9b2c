"""Abstract models shared by apps, and lib's one table: the periodic jobs' claims."""

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


class PeriodicClaim(models.Model):
    """One periodic job's run for one period: inserted by the run before it does any work.

    The unique pair (job, period start) is the whole mechanism: however many workers, schedulers
    or chains of the job exist, only one insert per period succeeds, and a run whose insert fails
    does nothing (``lib.tasks.periodic_continue``). Outcomes are recorded elsewhere (the web app's
    job runs); claims older than a few periods are deleted as new ones are made.
    """

    job = models.CharField(max_length=200)  # the task's dotted path (lib.tasks.PERIODIC_JOBS)
    period_start = models.DateTimeField()
    claimed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "period_start"], name="periodic_claim_once")
        ]

    def __str__(self) -> str:
        return f"{self.job} @ {self.period_start:%Y-%m-%d %H:%M}"
