"""Paging of the lists that grow with the clinic's data, in one shape for every page.

Two kinds, one look (``templates/includes/pager.html``, drawn by ``{% pager %}`` from
``lib/templatetags/paging.py``):

- **Numbered pages** (``numbered_page``): Django's paginator, a COUNT and one query for the rows,
  "page N of M" and links to pages by number. Fine where the list is thousands of rows (patients,
  open boosters, bookings, staff): OFFSET costs a little more on deep pages, but nobody reads
  page 4,000 of a patient list. A page number past the end shows the last page and anything
  that is not a number the first, never an error.
- **Keyset pages**: the audit trail, millions of rows, where OFFSET would read every row it
  skips. Its cursor and capped count are the audit app's own (``audit/cursor.py``: the audit
  app sits below ``lib`` in the apps' order); its view draws them with this module's ``Pager``.

Links carry a page number (or the audit trail's cursor of a timestamp and a row id), never
patient data: the filters and searches of a page stay in its session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.core.paginator import Page, Paginator
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)

PAGE_PARAM = "page"


def numbered_page(qs: QuerySet[M], page: str | int | None, *, per_page: int) -> Page[M]:
    """One page of ``qs`` with its count (two queries: COUNT, then the rows, read here so the
    caller can audit them in the same transaction). ``page`` as it came from the query string:
    past the end gives the last page, not a number the first."""
    found = Paginator(qs, per_page).get_page(page)
    found.object_list = list(found.object_list)
    return found


# --- what the pager partial draws ------------------------------------------------------------


@dataclass(frozen=True)
class PagerLink:
    label: str
    href: str = ""  # "" for the current page (drawn as text, aria-current) or a gap
    current: bool = False
    rel: str = ""  # "prev" / "next" where it applies
    aria_label: str = ""  # the words a screen reader hears when the label is a bare number


@dataclass(frozen=True)
class Pager:
    """The links and the summary line of one page of a list."""

    summary: str
    links: Sequence[PagerLink] = field(default_factory=tuple)


def _href(number: int) -> str:
    return f"?{PAGE_PARAM}={number}"


def numbered_pager(page: Page[Any], *, noun: str = "row") -> Pager:
    """The pager of a numbered page: "12 patients · page 1 of 3", previous, a few page numbers
    around this one (the first and last always), next."""
    count = page.paginator.count
    total = page.paginator.num_pages
    summary = f"{count:,} {noun}{'' if count == 1 else 's'}"
    if total > 1:
        summary += f" · page {page.number} of {total}"
    links: list[PagerLink] = []
    if total <= 1:
        return Pager(summary=summary)
    if page.has_previous():
        links.append(PagerLink("Previous", _href(page.previous_page_number()), rel="prev"))
    for number in page.paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1):
        if not isinstance(number, int):  # the paginator's ellipsis between page numbers
            links.append(PagerLink("…"))
        elif number == page.number:
            links.append(PagerLink(str(number), current=True, aria_label=f"Page {number}"))
        else:
            links.append(PagerLink(str(number), _href(number), aria_label=f"Page {number}"))
    if page.has_next():
        links.append(PagerLink("Next", _href(page.next_page_number()), rel="next"))
    return Pager(summary=summary, links=tuple(links))
