"""NeuPSIG grading of neuropathic pain: unlikely, possible, probable, definite.

Finnerup NB, Haroutounian S, Kamerman P, et al. Neuropathic pain: an updated grading system for
research and clinical practice. Pain 2016;157(8):1599-1606 (PMC4949003;
docs/clinical-sources.md §4.1; docs/clinical-policy.md "Neuropathic grading [4.1]"). The 2016
revision orders the steps history -> plausible distribution -> sensory signs -> confirmatory test,
and each grade needs every step before it:

- possible: a history suggesting a relevant lesion or disease, and a neuroanatomically plausible
  pain distribution;
- probable: possible, plus sensory signs in the same plausible distribution on examination;
- definite: probable, plus a diagnostic test confirming a lesion or disease of the somatosensory
  system that explains the pain ("definite" does not establish causality);
- unlikely: the conditions for "possible" are not met.

A confirmatory test without sensory signs therefore grades "possible" here, as the clinical
contract (docs/design.md "Clinical core contract") states the grades cumulatively. Finnerup 2016
(figure 2, note c) allows "probable" in that case when signs are hard to demonstrate but a test
confirms the lesion; that is a clinician's judgement to record with the grade, not something this
function assumes.

The self-check can reach at most "possible"; the eligibility exam "probable"; a recorded
confirmatory test "definite".
"""

from __future__ import annotations

from typing import Final, Literal

from ketaclinic.clinical._validate import require_bool

__all__ = ["GRADES", "SOURCE", "Grade", "neuropathic_grade"]

Grade = Literal["unlikely", "possible", "probable", "definite"]

GRADES: Final[tuple[Grade, ...]] = ("unlikely", "possible", "probable", "definite")
"""The grades in increasing certainty."""

# docs/clinical-sources.md §4.1
SOURCE: Final = (
    "Finnerup NB et al. Neuropathic pain: an updated grading system for research and clinical "
    "practice. Pain 2016;157(8):1599-1606 (NeuPSIG)."
)


def neuropathic_grade(
    *,
    history: bool,
    plausible_distribution: bool,
    sensory_signs: bool,
    confirmatory_test: bool,
) -> Grade:
    """The NeuPSIG 2016 grade for the findings given.

    Every argument must be a ``bool``: an unanswered finding (None) or a 0/1 from a form is a
    ``ValueError`` naming the field, because silently treating "unknown" as "no" would understate
    the grade without anyone deciding so.
    """
    history = require_bool(history, "history")
    plausible_distribution = require_bool(plausible_distribution, "plausible_distribution")
    sensory_signs = require_bool(sensory_signs, "sensory_signs")
    confirmatory_test = require_bool(confirmatory_test, "confirmatory_test")
    if not (history and plausible_distribution):
        return "unlikely"
    if not sensory_signs:
        return "possible"
    if not confirmatory_test:
        return "probable"
    return "definite"
