"""The pager of a list: ``{% load paging %}{% pager page noun="patient" %}`` for a numbered
page (a Django ``Page``), or ``{% pager pager %}`` for one a view built (the audit trail's
keyset links). Both draw ``templates/includes/pager.html`` (``lib/paging.py``)."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.paginator import Page

from ketaclinic.lib.paging import Pager, numbered_pager

register = template.Library()


@register.inclusion_tag("includes/pager.html")
def pager(
    page: Page[Any] | Pager, noun: str = "row", label: str = "Pages", summary: bool = True
) -> dict[str, Any]:
    """``label`` names the nav landmark (a list with a pager above and below it needs two
    names); ``summary=False`` leaves out the count line (drawn once, above the list)."""
    drawn = page if isinstance(page, Pager) else numbered_pager(page, noun=noun)
    return {"pager": drawn, "label": label, "summary": summary}
