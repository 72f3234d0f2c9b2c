"""The public self-check and the education pages: thin views over forms, services and selectors.

The answers given so far live in the session under one key (``SESSION_ANSWERS``), by step, so a
visitor can go back and forward without losing them; the stored result is found through the
public id kept under ``SESSION_RESULT``. Neither ever appears in a URL.
"""

from __future__ import annotations

import math
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from ketaclinic.clinical.instruments import REGISTRY
from ketaclinic.screening import questions as q
from ketaclinic.screening.forms import STEP_FORMS
from ketaclinic.screening.models import SelfCheck
from ketaclinic.screening.selectors import (
    SESSION_ANSWERS,
    SESSION_RESULT,
    selfcheck_from_session,
)
from ketaclinic.screening.services import selfcheck_submit
from ketaclinic.screening.throttle import submit_wait

# Where "Book a consultation" leads. The booking app serves it; swap for reverse() once it exists.
BOOKING_START_PATH = "/book/"

LEARN_PAGES: dict[str, str] = {
    "neuropathic-pain": "What neuropathic pain is",
    "causes": "What causes it",
    "why-chronic": "Why nerve pain can last",
    "managing-pain": "Ways to manage nerve pain",
    "ketamine-infusion": "What a ketamine infusion involves",
}

STEP_INTROS: dict[str, str] = {
    "feel": (
        "Think about how your pain has felt over the past week. Each answer below counts for "
        "every questionnaire that asks it, so you answer it only once."
    ),
    "duration": "Pain that lasts longer than 3 months is called chronic.",
    "where": "Knowing where the pain is helps a clinician think about which nerves are involved.",
    "triggers": "Nerve pain is often set off by things that should not hurt.",
    "conditions": (
        "Some conditions can damage nerves. It is fine if you are not sure: sometimes no cause "
        "is ever found."
    ),
    "treatments": "This helps a clinician see what has and has not been tried.",
    "self-tests": "",
    "warning-signs": (
        "These questions check for problems that need urgent care rather than a clinic appointment."
    ),
}


def _answers(request: HttpRequest) -> dict[str, dict[str, Any]]:
    stored = request.session.get(SESSION_ANSWERS)
    return dict(stored) if isinstance(stored, dict) else {}


def _first_unanswered(answers: dict[str, Any]) -> int:
    for index, slug in enumerate(q.STEP_SLUGS):
        if slug not in answers:
            return index
    return len(q.STEP_SLUGS)


def _step_url(index: int) -> str:
    if index < 0:
        return reverse("selfcheck_start")
    return reverse("selfcheck_step", kwargs={"step": q.STEP_SLUGS[index]})


@login_not_required
@require_http_methods(["GET", "POST"])
def selfcheck_start(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        # "Start again": forget every answer and any result of this session.
        request.session.pop(SESSION_ANSWERS, None)
        request.session.pop(SESSION_RESULT, None)
        return redirect(_step_url(0))
    answers = _answers(request)
    resume = _first_unanswered(answers)
    return render(
        request,
        "screening/start.html",
        {
            "steps": q.STEPS,
            "has_answers": bool(answers),
            "resume_url": _step_url(min(resume, len(q.STEPS) - 1)),
            "first_url": _step_url(0),
        },
    )


@login_not_required
@require_http_methods(["GET", "POST"])
def selfcheck_step(request: HttpRequest, step: str) -> HttpResponse:
    try:
        index = q.step_index(step)
    except KeyError:
        raise Http404("No such step") from None
    answers = _answers(request)
    first_missing = _first_unanswered(answers)
    if index > first_missing:
        # Steps are answered in order; a later one opens once the earlier ones are done.
        return redirect(_step_url(first_missing))
    form_class = STEP_FORMS[step]
    status = 200
    if request.method == "POST":
        going_back = request.POST.get("nav") == "back"
        form = form_class(request.POST)
        if form.is_valid():
            answers[step] = form.cleaned_data
            request.session[SESSION_ANSWERS] = answers
            # A changed answer makes any earlier result stale.
            request.session.pop(SESSION_RESULT, None)
            if going_back:
                return redirect(_step_url(index - 1))
            if index + 1 < len(q.STEPS):
                return redirect(_step_url(index + 1))
            return _finish(request, answers)
        if going_back:
            # Going back never gets stuck on an unfinished screen; nothing from it is kept.
            return redirect(_step_url(index - 1))
        status = 422
    else:
        form = form_class(initial=answers.get(step))
    return render(
        request,
        "screening/step.html",
        {
            "form": form,
            "step": q.STEPS[index],
            "number": index + 1,
            "total": len(q.STEPS),
            "intro": STEP_INTROS[step],
            "back_url": _step_url(index - 1),
            "is_last": index + 1 == len(q.STEPS),
        },
        status=status,
    )


def _finish(request: HttpRequest, answers: dict[str, dict[str, Any]]) -> HttpResponse:
    wait = submit_wait(request)
    if wait:
        return _throttled(request, answers, wait)
    try:
        selfcheck = selfcheck_submit(answers=answers)
    except ValueError:
        # Only reachable if the stored answers were saved by an older version of the questions:
        # send the visitor to the first step the current questions consider unanswered.
        request.session.pop(SESSION_ANSWERS, None)
        return redirect(_step_url(0))
    request.session[SESSION_RESULT] = str(selfcheck.public_id)
    return redirect("selfcheck_result")


def _throttled(request: HttpRequest, answers: dict[str, dict[str, Any]], wait: int) -> HttpResponse:
    """429: nothing stored; the answers stay in the session for a later try.

    Warning signs are still answered here, from the answers alone: a person who needs urgent
    care must not be told only to wait.
    """
    try:
        flags = q.evaluate(answers).red_flags
    except ValueError:
        flags = ()
    response = render(
        request,
        "screening/throttled.html",
        {
            "minutes": max(1, math.ceil(wait / 60)),
            "red_flags": [q.RED_FLAG_NAMES[key] for key in flags],
            "learn_pages": LEARN_PAGES,
        },
        status=429,
    )
    response["Retry-After"] = str(wait)
    return response


def _result_context(selfcheck: SelfCheck) -> dict[str, Any]:
    rows = []
    for code in q.SCREENING_CODES:
        stored = selfcheck.scores[code]
        instrument = REGISTRY[code]
        rows.append(
            {
                "code": code,
                "name": instrument.name,
                "short_name": q.SHORT_NAMES[code],
                "total": stored["total"],
                "minimum": instrument.minimum,
                "maximum": stored["maximum"],
                "cutoff": stored["cutoff"],
                "positive": stored["positive"],
                "band": stored["band"],
                "source": stored["source"],
                "meaning": instrument.positive_meaning,
            }
        )
    duration = selfcheck.answers["duration"]["duration"]
    duration_label = next(d.label for d in q.DURATIONS if d.value == duration)
    return {
        "selfcheck": selfcheck,
        "rows": rows,
        "positives": sum(1 for row in rows if row["positive"]),
        "duration_label": duration_label,
        "red_flags": [q.RED_FLAG_NAMES[key] for key in selfcheck.red_flags],
        "booking_path": BOOKING_START_PATH,
        "chronic_after": int(q.CHRONIC_AFTER_MONTHS),
        "learn_pages": LEARN_PAGES,
        "change_url": _step_url(len(q.STEPS) - 1),
    }


@login_not_required
@require_GET
def selfcheck_result(request: HttpRequest) -> HttpResponse:
    selfcheck = selfcheck_from_session(request)
    if selfcheck is None:
        answers = _answers(request)
        if not answers:
            return redirect("selfcheck_start")
        return redirect(_step_url(min(_first_unanswered(answers), len(q.STEPS) - 1)))
    return render(request, "screening/result.html", _result_context(selfcheck))


@login_not_required
@require_GET
def learn_index(request: HttpRequest) -> HttpResponse:
    return render(request, "screening/learn/index.html", {"pages": LEARN_PAGES})


@login_not_required
@require_GET
def learn_page(request: HttpRequest, slug: str) -> HttpResponse:
    if slug not in LEARN_PAGES:
        raise Http404("No such page")
    slugs = list(LEARN_PAGES)
    position = slugs.index(slug)
    following = slugs[position + 1] if position + 1 < len(slugs) else None
    return render(
        request,
        f"screening/learn/{slug}.html",
        {
            "title": LEARN_PAGES[slug],
            "slug": slug,
            "pages": LEARN_PAGES,
            "next_slug": following,
            "next_title": LEARN_PAGES[following] if following else "",
        },
    )
