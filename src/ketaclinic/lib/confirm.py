"""Ask first: the one confirm step of every action that cancels, deactivates or emails someone.

It works without JavaScript. A button posts to its action's URL as it always did; without
``confirmed=1`` the view answers with the confirm page (``templates/confirm.html``): what will
happen, in words ("Cancel 5 sessions of Jane Doe's induction series and email her"), a confirm
button whose form posts every field again plus ``confirmed=1``, and a way back. Only a POST
carrying ``confirmed=1`` acts; anything else shows the page and changes nothing.

Why a POST that re-renders rather than a confirm route per action: the buttons stay where they
are (a schedule item's panel, a list row) and no route is added; and the confirm page posts the
version the first page was opened at, so a change made in between is still refused by the
service. ``tests/test_lib_confirm.py`` lists every destructive route, so a new one that acts on
the first POST fails there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

CONFIRMED = "confirmed"
# Never carried onto the confirm page's form: the token is drawn fresh, and the flag is added.
_NOT_CARRIED = frozenset({"csrfmiddlewaretoken", CONFIRMED})


@dataclass(frozen=True)
class Question:
    """What the confirm page asks.

    ``consequence`` is the sentence that says what happens, to whom, and who is emailed;
    ``confirm`` the button's words; ``back_url`` where "Go back" leads (the page the action
    came from); ``details`` lines listed under the consequence (the sessions a series cancel
    ends, say).
    """

    title: str
    consequence: str
    confirm: str
    back_url: str
    details: Sequence[str] = ()
    back: str = "Go back"
    # A confirm button that ends or removes something is drawn as a danger button.
    danger: bool = True


def is_confirmed(request: HttpRequest) -> bool:
    """True only for a POST that came from a confirm page."""
    return request.method == "POST" and request.POST.get(CONFIRMED) == "1"


def carried_fields(request: HttpRequest) -> list[tuple[str, str]]:
    """The posted fields, each value in order, for the confirm page to post again."""
    if request.method != "POST":
        return []
    return [
        (name, value)
        for name in request.POST
        if name not in _NOT_CARRIED
        for value in request.POST.getlist(name)
    ]


def ask_first(
    request: HttpRequest,
    question: Question,
    *,
    extra: Sequence[tuple[str, str]] = (),
    action: str = "",
) -> HttpResponse:
    """The confirm page for ``question``. Its form posts to ``action`` (by default the URL the
    request came to) every field the request posted, then ``extra``, then ``confirmed=1``."""
    return render(
        request,
        "confirm.html",
        {
            "question": question,
            "fields": [*carried_fields(request), *extra],
            "action": action or request.get_full_path(),
        },
    )
