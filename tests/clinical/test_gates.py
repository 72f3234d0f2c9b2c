"""Gates along the journey: eligibility in force and the per-day cap (pure functions)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.clinical.gates import (
    ELIGIBILITY_GATE_SOURCE,
    DecisionOnRecord,
    can_override,
    day_cap_conflicts,
    eligibility_in_force,
    months_after,
)

TODAY = dt.date(2026, 12, 3)
NOON = dt.time(12, 0, tzinfo=dt.UTC)


def decision(
    exam: dt.date,
    engine: str = "eligible",
    final: str | None = None,
    *,
    reason: str = "",
    signed_minute: int = 0,
    reasons: tuple[str, ...] = (),
    ident: str = "d",
) -> DecisionOnRecord:
    final = engine if final is None else final
    signed_at = (
        dt.datetime.combine(exam, NOON) + dt.timedelta(minutes=signed_minute) if final else None
    )
    return DecisionOnRecord(
        decision_id=ident,
        exam_date=exam,
        engine_outcome=engine,  # type: ignore[arg-type]
        final_outcome=final,  # type: ignore[arg-type]
        overridden=bool(final) and final != engine,
        override_reason=reason,
        signed_at=signed_at,
        reasons=reasons,
    )


def test_an_eligible_signed_decision_allows_ketamine() -> None:
    result = eligibility_in_force([decision(dt.date(2026, 11, 1))], today=TODAY)
    assert (result.allowed, result.state) == (True, "eligible")
    assert result.valid_until == dt.date(2027, 11, 1)
    assert result.source == ELIGIBILITY_GATE_SOURCE


def test_the_verdict_leaves_out_the_clinical_reasons() -> None:
    found = decision(dt.date(2026, 11, 1), "ineligible", reasons=("Pregnancy",))
    result = eligibility_in_force([found], today=TODAY)
    assert "Pregnancy" in result.message
    assert result.verdict == (
        "Not eligible for ketamine: a new consultation and exam re-evaluate it."
    )
    assert "Pregnancy" not in result.verdict
    states = {
        eligibility_in_force(found_list, today=TODAY).verdict
        for found_list in (
            [],
            [decision(dt.date(2026, 11, 1), final="")],
            [decision(dt.date(2026, 11, 1))],
            [decision(dt.date(2026, 11, 1), "review")],
            [decision(dt.date(2026, 11, 1), "review", "eligible", reason="checked")],
            [decision(dt.date(2024, 11, 1))],
            [found],
        )
    }
    assert len(states) == 7


def test_no_decision_and_an_unsigned_one_refuse() -> None:
    none = eligibility_in_force([], today=TODAY)
    assert (none.allowed, none.state, none.decision) == (False, "none", None)
    draft = decision(dt.date(2026, 11, 1), final="")
    unsigned = eligibility_in_force([draft], today=TODAY)
    assert (unsigned.allowed, unsigned.state, unsigned.decision) == (False, "unsigned", draft)
    assert "not signed" in unsigned.message


def test_ineligible_refuses_with_its_reasons_and_cannot_be_overridden() -> None:
    found = decision(
        dt.date(2026, 11, 1), "ineligible", reasons=("Pregnancy is a contraindication",)
    )
    result = eligibility_in_force([found], today=TODAY)
    assert (result.allowed, result.state) == (False, "ineligible")
    assert "Pregnancy is a contraindication" in result.message
    assert "cannot be overridden" in result.message
    assert can_override("ineligible") is False
    assert can_override("review") is True
    assert can_override("eligible") is True
    # Records made before the rule: an ineligible engine outcome signed as eligible still refuses.
    legacy = decision(dt.date(2026, 11, 1), "ineligible", "eligible", reason="old override")
    assert eligibility_in_force([legacy], today=TODAY).state == "ineligible"


def test_review_needs_an_override_with_a_reason() -> None:
    signed_review = decision(dt.date(2026, 11, 1), "review", reasons=("BP 165/95",))
    refused = eligibility_in_force([signed_review], today=TODAY)
    assert (refused.allowed, refused.state) == (False, "review")
    assert "BP 165/95" in refused.message
    overridden = decision(dt.date(2026, 11, 1), "review", "eligible", reason="BP controlled now")
    allowed = eligibility_in_force([overridden], today=TODAY)
    assert (allowed.allowed, allowed.state) == (True, "review_overridden")
    assert "BP controlled now" in allowed.message


def test_a_physician_may_make_an_eligible_outcome_stricter() -> None:
    stricter = decision(
        dt.date(2026, 11, 1), "eligible", "review", reason="wants a cardiology view"
    )
    assert eligibility_in_force([stricter], today=TODAY).allowed is False


def test_the_exam_is_valid_for_the_clinics_months_to_the_day() -> None:
    exam = dt.date(2025, 12, 3)
    assert eligibility_in_force([decision(exam)], today=dt.date(2026, 12, 3)).allowed is True
    expired = eligibility_in_force([decision(exam)], today=dt.date(2026, 12, 4))
    assert (expired.allowed, expired.state) == (False, "expired")
    assert "2026-12-03" in expired.message
    six = eligibility_in_force([decision(exam)], today=dt.date(2026, 6, 4), valid_months=6)
    assert six.state == "expired"


def test_a_newer_signed_exam_replaces_every_older_decision() -> None:
    old_ok = decision(dt.date(2026, 6, 1), ident="old")
    new_no = decision(dt.date(2026, 11, 1), "ineligible", ident="new")
    assert eligibility_in_force([old_ok, new_no], today=TODAY).state == "ineligible"
    newer_ok = decision(dt.date(2026, 11, 20), ident="newer")
    assert eligibility_in_force([old_ok, new_no, newer_ok], today=TODAY).decision == newer_ok
    # A newer draft does not replace a signed decision.
    draft = decision(dt.date(2026, 12, 1), "ineligible", final="", ident="draft")
    assert eligibility_in_force([old_ok, draft], today=TODAY).decision == old_ok


def test_on_one_exam_day_the_later_signature_wins() -> None:
    first = decision(dt.date(2026, 11, 1), ident="first", signed_minute=0)
    second = decision(dt.date(2026, 11, 1), "ineligible", ident="second", signed_minute=5)
    assert eligibility_in_force([second, first], today=TODAY).decision == second


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match=r"^valid_months"):
        eligibility_in_force([], today=TODAY, valid_months=13)
    with pytest.raises(ValueError, match=r"^valid_months"):
        eligibility_in_force([], today=TODAY, valid_months=True)
    with pytest.raises(ValueError, match=r"^exam_date"):
        eligibility_in_force([decision(dt.date(2026, 12, 4))], today=TODAY)
    with pytest.raises(ValueError, match=r"^engine_outcome"):
        decision(TODAY, "maybe")
    with pytest.raises(ValueError, match=r"^final_outcome"):
        decision(TODAY, "eligible", "perhaps")
    with pytest.raises(ValueError, match=r"^override_reason"):
        decision(TODAY, "review", "eligible", reason="  ")
    with pytest.raises(ValueError, match=r"^signed_at"):
        DecisionOnRecord("x", TODAY, "eligible", "eligible")
    with pytest.raises(ValueError, match=r"^overridden"):
        DecisionOnRecord("x", TODAY, "eligible", "", overridden=True, override_reason="r")
    with pytest.raises(ValueError, match=r"^engine_outcome"):
        can_override("maybe")


def test_months_after_keeps_the_day_or_takes_the_months_last() -> None:
    assert months_after(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert months_after(dt.date(2027, 12, 15), 12) == dt.date(2028, 12, 15)
    assert months_after(dt.date(2026, 11, 30), 3) == dt.date(2027, 2, 28)


# -- properties ---------------------------------------------------------------------------------

OUTCOMES = st.sampled_from(["eligible", "review", "ineligible"])


@st.composite
def records(draw: st.DrawFn) -> DecisionOnRecord:
    exam = draw(st.dates(min_value=dt.date(2024, 1, 1), max_value=TODAY))
    engine = draw(OUTCOMES)
    final = draw(st.sampled_from(["", engine, "eligible", "review", "ineligible"]))
    return decision(
        exam,
        engine,
        final,
        reason="a written reason" if final and final != engine else "",
        signed_minute=draw(st.integers(0, 600)),
        ident=str(draw(st.uuids())),
    )


@given(st.lists(records(), max_size=6), st.integers(1, 12))
def test_allowed_exactly_when_the_newest_signed_decision_is_current_and_permits(
    found: list[DecisionOnRecord], months: int
) -> None:
    result = eligibility_in_force(found, today=TODAY, valid_months=months)
    signed = [d for d in found if d.signed]
    if not signed:
        assert not result.allowed
        return
    newest = max(signed, key=lambda d: (d.exam_date, d.signed_at))
    current = months_after(newest.exam_date, months) >= TODAY
    permits = newest.final_outcome == "eligible" and newest.engine_outcome != "ineligible"
    assert result.allowed is (current and permits)
    assert result.decision is newest


@given(st.lists(records(), min_size=1, max_size=5), records())
def test_an_older_or_unsigned_decision_never_changes_the_answer(
    found: list[DecisionOnRecord], extra: DecisionOnRecord
) -> None:
    before = eligibility_in_force(found, today=TODAY)
    signed = [d for d in found if d.signed]
    older = signed and extra.exam_date < min(d.exam_date for d in signed)
    if older or (signed and not extra.signed):
        assert eligibility_in_force([*found, extra], today=TODAY) == before


@given(records(), st.integers(0, 800), st.integers(0, 800))
def test_once_expired_a_decision_stays_expired(
    found: DecisionOnRecord, later: int, more: int
) -> None:
    first = eligibility_in_force([found], today=TODAY + dt.timedelta(days=later))
    second = eligibility_in_force([found], today=TODAY + dt.timedelta(days=later + more))
    if first.state == "expired":
        assert second.state == "expired"
    if second.allowed:
        assert first.allowed


DAYS = st.dates(min_value=dt.date(2026, 1, 1), max_value=dt.date(2026, 1, 20))


@given(st.lists(DAYS, max_size=8), st.lists(DAYS, max_size=8), st.integers(1, 3))
def test_day_cap_lists_exactly_the_proposed_days_over_the_cap(
    booked: list[dt.date], proposed: list[dt.date], per_day: int
) -> None:
    conflicts = day_cap_conflicts(booked, proposed, per_day=per_day)
    counts = Counter(booked) + Counter(proposed)
    assert conflicts == tuple(sorted({d for d in proposed if counts[d] > per_day}))
    assert all(d in proposed for d in conflicts)


def test_day_cap_examples_and_bad_input() -> None:
    monday, tuesday = dt.date(2026, 12, 7), dt.date(2026, 12, 8)
    assert day_cap_conflicts([monday], [monday, tuesday]) == (monday,)
    assert day_cap_conflicts([], [tuesday, tuesday]) == (tuesday,)
    assert day_cap_conflicts([monday], [tuesday]) == ()
    with pytest.raises(ValueError, match=r"^per_day"):
        day_cap_conflicts([], [], per_day=0)
