"""Eligibility for ketamine infusion (ketaclinic.clinical.eligibility)."""

from __future__ import annotations

import dataclasses
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.clinical import eligibility
from ketaclinic.clinical.eligibility import (
    CONDITIONS,
    DEFAULT_POLICY,
    FIRST_LINE_CLASSES,
    PLAUSIBLE_RANGES,
    RULES,
    RULESET_VERSION,
    THERAPIES,
    THERAPY_OUTCOMES,
    Decision,
    EligibilityPolicy,
    PatientFacts,
    Reason,
    evaluate,
    ruleset_description,
)

REPO = Path(__file__).resolve().parents[2]

SEVERITY = {"eligible": 0, "review": 1, "ineligible": 2}

# The contract's condition table, written out independently of the module.
CONTRACT_CONDITIONS = {
    "pregnancy": "ineligible",
    "uncontrolled_hypertension": "ineligible",
    "uncontrolled_cardiovascular_disease": "ineligible",
    "active_psychosis": "ineligible",
    "severe_hepatic_disease": "ineligible",
    "raised_intracranial_pressure": "ineligible",
    "raised_intraocular_pressure": "ineligible",
    "active_substance_use_disorder": "ineligible",
    "ketamine_hypersensitivity": "ineligible",
    "psychosis_history": "review",
    "moderate_hepatic_disease": "review",
    "substance_use_history": "review",
}
FIRST_LINE = {
    "gabapentin": "gabapentinoid",
    "pregabalin": "gabapentinoid",
    "duloxetine": "snri",
    "venlafaxine": "snri",
    "amitriptyline": "tca",
    "nortriptyline": "tca",
}
OTHER_THERAPIES = [
    "otc_analgesics",
    "tramadol",
    "opioids",
    "lidocaine_patch",
    "capsaicin_patch",
    "botulinum_toxin",
    "physical_therapy",
    "massage",
    "acupuncture",
    "cbt",
    "mindfulness",
    "exercise",
]


def facts(**overrides: object) -> PatientFacts:
    """An adult who meets every rule: each test changes only what it is about."""
    values: dict[str, object] = {
        "age_years": 45,
        "pain_duration_months": 12.0,
        "systolic_bp": 120,
        "diastolic_bp": 80,
        "heart_rate": 72,
        "spo2": 98,
        "weight_kg": 80.0,
        "conditions": frozenset(),
        "prior_therapies": {"gabapentin": "failed", "duloxetine": "intolerant"},
    }
    values.update(overrides)
    return PatientFacts(**values)  # type: ignore[arg-type]


def codes(decision: Decision) -> list[str]:
    return [reason.code for reason in decision.reasons]


# --- the eligible patient --------------------------------------------------------------------


def test_a_patient_who_meets_every_rule_is_eligible_with_no_reasons() -> None:
    decision = evaluate(facts())

    assert decision.outcome == "eligible"
    assert decision.reasons == ()
    assert decision.ruleset_version == RULESET_VERSION
    assert decision.policy == dataclasses.asdict(EligibilityPolicy())


def test_the_default_policy_is_clinical_md() -> None:
    assert dataclasses.asdict(EligibilityPolicy()) == {
        "min_age_years": 18,
        "crisis_systolic_bp": 180,
        "crisis_diastolic_bp": 110,
        "elevated_systolic_bp": 160,
        "elevated_diastolic_bp": 100,
        "max_heart_rate": 110,
        "min_spo2": 94,
        "chronic_pain_months": 3.0,
        "first_line_classes_required": 2,
    }
    assert EligibilityPolicy() == DEFAULT_POLICY


def test_evaluate_uses_the_default_policy_when_none_is_given() -> None:
    assert evaluate(facts()) == evaluate(facts(), EligibilityPolicy())


# --- condition rules -------------------------------------------------------------------------


def test_the_condition_table_is_the_contract() -> None:
    assert {code: c.outcome for code, c in CONDITIONS.items()} == CONTRACT_CONDITIONS
    for code, condition in CONDITIONS.items():
        assert condition.code == code
        assert condition.label.strip()
        assert len(condition.source) > 30


@pytest.mark.parametrize(("code", "outcome"), CONTRACT_CONDITIONS.items())
def test_each_condition_fires_its_own_reason_with_its_outcome(code: str, outcome: str) -> None:
    decision = evaluate(facts(conditions=frozenset({code})))

    assert decision.outcome == outcome
    assert decision.reasons == (
        Reason(
            code=code,
            outcome=outcome,  # type: ignore[arg-type]
            message=decision.reasons[0].message,
            source=CONDITIONS[code].source,
        ),
    )
    assert CONDITIONS[code].label in decision.reasons[0].message


def test_an_ineligible_condition_outweighs_a_review_condition() -> None:
    decision = evaluate(facts(conditions=frozenset({"psychosis_history", "pregnancy"})))

    assert decision.outcome == "ineligible"
    # Listed in CONDITIONS order, whatever order the set iterates in.
    assert codes(decision) == ["pregnancy", "psychosis_history"]


def test_every_condition_at_once_lists_every_reason() -> None:
    decision = evaluate(facts(conditions=frozenset(CONDITIONS)))

    assert decision.outcome == "ineligible"
    assert codes(decision) == list(CONDITIONS)


# --- threshold rules, at and either side of each threshold -----------------------------------

THRESHOLDS = [
    # systolic: elevated from 160, crisis from 180
    pytest.param({"systolic_bp": 159}, [], id="systolic-159"),
    pytest.param({"systolic_bp": 160}, ["blood_pressure_elevated"], id="systolic-160"),
    pytest.param({"systolic_bp": 179}, ["blood_pressure_elevated"], id="systolic-179"),
    pytest.param({"systolic_bp": 180}, ["blood_pressure_crisis"], id="systolic-180"),
    pytest.param({"systolic_bp": 181}, ["blood_pressure_crisis"], id="systolic-181"),
    # diastolic: elevated from 100, crisis from 110
    pytest.param({"diastolic_bp": 99}, [], id="diastolic-99"),
    pytest.param({"diastolic_bp": 100}, ["blood_pressure_elevated"], id="diastolic-100"),
    pytest.param({"diastolic_bp": 109}, ["blood_pressure_elevated"], id="diastolic-109"),
    pytest.param({"diastolic_bp": 110}, ["blood_pressure_crisis"], id="diastolic-110"),
    # either number alone is enough; a crisis is not also reported as elevated
    pytest.param(
        {"systolic_bp": 150, "diastolic_bp": 110}, ["blood_pressure_crisis"], id="bp-150/110"
    ),
    pytest.param(
        {"systolic_bp": 185, "diastolic_bp": 105}, ["blood_pressure_crisis"], id="bp-185/105"
    ),
    pytest.param(
        {"systolic_bp": 170, "diastolic_bp": 105}, ["blood_pressure_elevated"], id="bp-170/105"
    ),
    pytest.param({"systolic_bp": 159, "diastolic_bp": 99}, [], id="bp-159/99"),
    # heart rate: over 110
    pytest.param({"heart_rate": 110}, [], id="hr-110"),
    pytest.param({"heart_rate": 111}, ["tachycardia"], id="hr-111"),
    # SpO2: under 94
    pytest.param({"spo2": 94}, [], id="spo2-94"),
    pytest.param({"spo2": 93}, ["low_oxygen_saturation"], id="spo2-93"),
    pytest.param({"spo2": 100}, [], id="spo2-100"),
    # duration: chronic means longer than 3 months
    pytest.param({"pain_duration_months": 2.99}, ["not_chronic"], id="duration-2.99"),
    pytest.param({"pain_duration_months": 3.0}, ["not_chronic"], id="duration-3.0"),
    pytest.param({"pain_duration_months": 3}, ["not_chronic"], id="duration-int-3"),
    pytest.param({"pain_duration_months": 3.01}, [], id="duration-3.01"),
    pytest.param({"pain_duration_months": 0}, ["not_chronic"], id="duration-0"),
    # age: under 18
    pytest.param({"age_years": 17}, ["minor"], id="age-17"),
    pytest.param({"age_years": 18}, [], id="age-18"),
]


@pytest.mark.parametrize(("overrides", "expected"), THRESHOLDS)
def test_each_threshold_rule_fires_exactly_at_its_boundary(
    overrides: dict[str, object], expected: list[str]
) -> None:
    decision = evaluate(facts(**overrides))

    assert codes(decision) == expected
    worst = max(
        (RULES[code].outcome for code in expected), key=SEVERITY.__getitem__, default="eligible"
    )
    assert decision.outcome == worst


def test_the_threshold_rules_have_the_contract_outcomes() -> None:
    assert {code: rule.outcome for code, rule in RULES.items()} == {
        "minor": "ineligible",
        "blood_pressure_crisis": "ineligible",
        "blood_pressure_elevated": "review",
        "tachycardia": "review",
        "low_oxygen_saturation": "review",
        "not_chronic": "review",
        "first_line_not_exhausted": "review",
    }
    assert all(len(rule.source) > 30 for rule in RULES.values())


MESSAGES = [
    (
        {"systolic_bp": 182},
        "Systolic 182 mmHg is at or above the crisis threshold of 180 mmHg.",
    ),
    (
        {"systolic_bp": 182, "diastolic_bp": 112},
        "Systolic 182 mmHg is at or above the crisis threshold of 180 mmHg; "
        "diastolic 112 mmHg is at or above the crisis threshold of 110 mmHg.",
    ),
    (
        {"diastolic_bp": 100},
        "Diastolic 100 mmHg is at or above the elevated threshold of 100 mmHg.",
    ),
    ({"heart_rate": 111}, "Heart rate 111/min is above the maximum of 110/min."),
    ({"spo2": 93}, "SpO2 93% is below the minimum of 94%."),
    ({"age_years": 17}, "Age 17 years is under the minimum age of 18 years."),
    (
        {"pain_duration_months": 3.0},
        "Pain duration 3 months is not longer than 3 months, so the pain is not yet chronic.",
    ),
    (
        {"pain_duration_months": 2.5},
        "Pain duration 2.5 months is not longer than 3 months, so the pain is not yet chronic.",
    ),
    (
        {"prior_therapies": {}},
        "0 of 3 first-line drug classes (gabapentinoid, SNRI, TCA) failed or were not "
        "tolerated (counted: none); at least 2 are required before ketamine.",
    ),
    (
        {"prior_therapies": {"pregabalin": "intolerant"}},
        "1 of 3 first-line drug classes (gabapentinoid, SNRI, TCA) failed or were not "
        "tolerated (counted: gabapentinoid); at least 2 are required before ketamine.",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), MESSAGES)
def test_each_reason_names_the_value_and_the_threshold_used(
    overrides: dict[str, object], message: str
) -> None:
    (reason,) = evaluate(facts(**overrides)).reasons

    assert reason.message == message
    assert reason.source == RULES[reason.code].source


def test_a_duration_is_printed_with_every_digit() -> None:
    policy = EligibilityPolicy(chronic_pain_months=3.0000001)

    (reason,) = evaluate(facts(pain_duration_months=3.0000001), policy).reasons

    assert "3.0000001 months is not longer than 3.0000001 months" in reason.message


# --- first-line rule -------------------------------------------------------------------------


def test_the_therapy_table_has_the_six_first_line_drugs_in_three_classes() -> None:
    first_line = {code: t.first_line_class for code, t in THERAPIES.items() if t.first_line_class}
    assert first_line == FIRST_LINE
    assert set(FIRST_LINE_CLASSES) == {"gabapentinoid", "snri", "tca"}
    for code in OTHER_THERAPIES:
        assert THERAPIES[code].first_line_class is None
    for code, therapy in THERAPIES.items():
        assert therapy.code == code
        assert therapy.label.strip()


FIRST_LINE_CASES = [
    pytest.param({}, True, id="nothing-tried"),
    pytest.param({"gabapentin": "failed"}, True, id="one-class"),
    pytest.param(
        {"gabapentin": "failed", "pregabalin": "intolerant"}, True, id="two-drugs-one-class"
    ),
    pytest.param({"gabapentin": "failed", "duloxetine": "failed"}, False, id="two-classes"),
    pytest.param({"pregabalin": "intolerant", "nortriptyline": "intolerant"}, False, id="two-b"),
    pytest.param({"venlafaxine": "failed", "amitriptyline": "failed"}, False, id="two-c"),
    pytest.param(
        {"gabapentin": "failed", "duloxetine": "failed", "amitriptyline": "intolerant"},
        False,
        id="three-classes",
    ),
    pytest.param(
        {"gabapentin": "partial", "duloxetine": "helped"}, True, id="partial-and-helped-dont-count"
    ),
    pytest.param(
        {"gabapentin": "helped", "pregabalin": "failed", "duloxetine": "failed"},
        False,
        id="one-failure-counts-its-class",
    ),
    pytest.param(
        dict.fromkeys(OTHER_THERAPIES, "failed"),
        True,
        id="other-therapies-dont-count",
    ),
    pytest.param(
        {"gabapentin": "failed", "tramadol": "failed", "opioids": "intolerant"},
        True,
        id="opioids-dont-count",
    ),
]


@pytest.mark.parametrize(("therapies", "fires"), FIRST_LINE_CASES)
def test_first_line_rule_needs_two_classes_failed_or_not_tolerated(
    therapies: dict[str, str], fires: bool
) -> None:
    decision = evaluate(facts(prior_therapies=therapies))

    assert ("first_line_not_exhausted" in codes(decision)) is fires
    assert decision.outcome == ("review" if fires else "eligible")


def test_a_clinic_can_require_fewer_or_more_first_line_classes() -> None:
    nothing_tried = facts(prior_therapies={})
    two_classes = facts()

    assert evaluate(nothing_tried, EligibilityPolicy(first_line_classes_required=0)).reasons == ()
    assert codes(evaluate(two_classes, EligibilityPolicy(first_line_classes_required=3))) == [
        "first_line_not_exhausted"
    ]


# --- policy ----------------------------------------------------------------------------------


def test_a_clinic_policy_moves_every_threshold() -> None:
    policy = EligibilityPolicy(
        min_age_years=21,
        crisis_systolic_bp=170,
        crisis_diastolic_bp=105,
        elevated_systolic_bp=140,
        elevated_diastolic_bp=90,
        max_heart_rate=100,
        min_spo2=95,
        chronic_pain_months=6.0,
    )

    assert codes(
        evaluate(
            facts(age_years=20, systolic_bp=140, heart_rate=101, spo2=94, pain_duration_months=6),
            policy,
        )
    ) == ["minor", "blood_pressure_elevated", "tachycardia", "low_oxygen_saturation", "not_chronic"]
    assert codes(evaluate(facts(diastolic_bp=105), policy)) == ["blood_pressure_crisis"]
    assert evaluate(facts(diastolic_bp=105), policy).policy["crisis_diastolic_bp"] == 105
    assert (
        evaluate(
            facts(age_years=21, heart_rate=100, spo2=95, pain_duration_months=6.5), policy
        ).reasons
        == ()
    )


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("min_age_years", True, "min_age_years must be a whole number"),
        ("min_age_years", 18.0, "min_age_years must be a whole number"),
        ("crisis_systolic_bp", "180", "crisis_systolic_bp must be a whole number"),
        ("crisis_diastolic_bp", None, "crisis_diastolic_bp must be a whole number"),
        ("elevated_systolic_bp", False, "elevated_systolic_bp must be a whole number"),
        ("elevated_diastolic_bp", 1000, "elevated_diastolic_bp must be at least"),
        ("max_heart_rate", -1, "max_heart_rate must be at least"),
        ("min_spo2", 101, "min_spo2 must be at least 50 and at most 100"),
        ("chronic_pain_months", math.nan, "chronic_pain_months must be a finite number"),
        ("chronic_pain_months", -1.0, "chronic_pain_months must be at least 0"),
        ("chronic_pain_months", True, "chronic_pain_months must be a number"),
        ("first_line_classes_required", 4, "first_line_classes_required must be at least 0"),
        ("first_line_classes_required", True, "first_line_classes_required must be a whole"),
        ("elevated_systolic_bp", 190, "elevated_systolic_bp \\(190\\) must not exceed"),
        ("elevated_diastolic_bp", 120, "elevated_diastolic_bp \\(120\\) must not exceed"),
    ],
)
def test_a_policy_refuses_bad_thresholds_naming_the_field(
    field: str, value: object, match: str
) -> None:
    with pytest.raises(ValueError, match=f"^{match}"):
        EligibilityPolicy(**{field: value})  # type: ignore[arg-type]


def test_a_policy_may_put_elevated_equal_to_crisis() -> None:
    policy = EligibilityPolicy(elevated_systolic_bp=180, elevated_diastolic_bp=110)

    assert codes(evaluate(facts(systolic_bp=179), policy)) == []
    assert codes(evaluate(facts(systolic_bp=180), policy)) == ["blood_pressure_crisis"]


# --- facts validation ------------------------------------------------------------------------

INTEGER_FIELDS = ["age_years", "systolic_bp", "diastolic_bp", "heart_rate", "spo2"]


@pytest.mark.parametrize("field", INTEGER_FIELDS)
@pytest.mark.parametrize("value", [True, False, 120.0, "120", None, math.nan])
def test_integer_facts_refuse_bools_floats_and_strings_naming_the_field(
    field: str, value: object
) -> None:
    with pytest.raises(ValueError, match=f"^{field} must be a whole number"):
        facts(**{field: value})


@pytest.mark.parametrize("field", ["pain_duration_months", "weight_kg"])
@pytest.mark.parametrize("value", [True, "12", None, math.nan, math.inf, -math.inf])
def test_number_facts_refuse_bools_strings_and_non_finite_values(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"^{field} must be a"):
        facts(**{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("age_years", -1),
        ("age_years", 131),
        ("pain_duration_months", -0.5),
        ("pain_duration_months", 1561),
        ("systolic_bp", 39),
        ("systolic_bp", 301),
        ("diastolic_bp", 19),
        ("diastolic_bp", 201),
        ("heart_rate", 19),
        ("heart_rate", 301),
        ("spo2", 49),
        ("spo2", 101),
        ("weight_kg", 0),
        ("weight_kg", -70.0),
        ("weight_kg", 700.5),
    ],
)
def test_implausible_values_are_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"^{field} must be "):
        facts(**{field: value})


def test_plausibility_limits_sit_far_from_every_rule_threshold() -> None:
    for field, (lowest, highest) in PLAUSIBLE_RANGES.items():
        assert lowest < highest, field
    # Values the threshold tests use are all accepted.
    facts(systolic_bp=180, diastolic_bp=110, heart_rate=111, spo2=93, age_years=17)
    facts(pain_duration_months=3.0, weight_kg=0.5)


def test_conditions_refuse_an_unknown_code_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"^conditions: unknown condition code 'diabetes'"):
        facts(conditions=frozenset({"diabetes"}))


@pytest.mark.parametrize("value", ["pregnancy", b"pregnancy", None, 3, {"pregnancy": True}])
def test_conditions_refuse_anything_but_a_collection_of_codes(value: object) -> None:
    with pytest.raises(ValueError, match=r"^conditions must be a set of condition codes"):
        facts(conditions=value)


def test_conditions_refuse_a_code_that_is_not_a_string() -> None:
    with pytest.raises(ValueError, match=r"^conditions: unknown condition code 1"):
        facts(conditions=frozenset({1}))


def test_conditions_given_as_a_set_or_list_are_stored_as_a_frozenset() -> None:
    assert facts(conditions={"pregnancy"}).conditions == frozenset({"pregnancy"})
    assert facts(conditions=["pregnancy", "pregnancy"]).conditions == frozenset({"pregnancy"})
    assert facts(conditions=("pregnancy",)).conditions == frozenset({"pregnancy"})
    assert type(facts(conditions=["pregnancy"]).conditions) is frozenset


def test_prior_therapies_refuse_an_unknown_therapy_naming_the_field() -> None:
    with pytest.raises(ValueError, match=r"^prior_therapies: unknown therapy code 'ketamine'"):
        facts(prior_therapies={"ketamine": "failed"})
    with pytest.raises(ValueError, match=r"^prior_therapies: unknown therapy code 3"):
        facts(prior_therapies={3: "failed"})


@pytest.mark.parametrize("outcome", ["fail", "FAILED", "", None, True, 1])
def test_prior_therapies_refuse_an_unknown_outcome_naming_the_therapy(outcome: object) -> None:
    with pytest.raises(ValueError, match=r"^prior_therapies\['gabapentin'\]: unknown outcome"):
        facts(prior_therapies={"gabapentin": outcome})


@pytest.mark.parametrize("value", [None, [("gabapentin", "failed")], "gabapentin"])
def test_prior_therapies_refuse_anything_but_a_mapping(value: object) -> None:
    with pytest.raises(ValueError, match=r"^prior_therapies must be a mapping"):
        facts(prior_therapies=value)


def test_the_outcome_vocabulary_is_the_contract() -> None:
    assert THERAPY_OUTCOMES == ("failed", "intolerant", "partial", "helped")


def test_facts_cannot_change_after_validation() -> None:
    therapies = {"gabapentin": "failed", "duloxetine": "failed"}
    patient = facts(prior_therapies=therapies)

    therapies["gabapentin"] = "not-an-outcome"

    assert patient.prior_therapies["gabapentin"] == "failed"
    with pytest.raises(dataclasses.FrozenInstanceError):
        patient.age_years = 10  # type: ignore[misc]
    with pytest.raises(TypeError):
        patient.prior_therapies["duloxetine"] = "helped"  # type: ignore[index]


def test_conditions_and_therapies_default_to_none_recorded() -> None:
    patient = PatientFacts(
        age_years=40,
        pain_duration_months=6,
        systolic_bp=120,
        diastolic_bp=80,
        heart_rate=70,
        spo2=97,
        weight_kg=70,
    )

    assert patient.conditions == frozenset()
    assert dict(patient.prior_therapies) == {}
    assert codes(evaluate(patient)) == ["first_line_not_exhausted"]


def test_evaluate_refuses_anything_but_facts_and_a_policy() -> None:
    with pytest.raises(ValueError, match=r"^facts must be a PatientFacts"):
        evaluate({"age_years": 40})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^policy must be an EligibilityPolicy"):
        evaluate(facts(), {"min_age_years": 18})  # type: ignore[arg-type]


# --- the decision ----------------------------------------------------------------------------


def test_the_outcome_is_the_worst_reason_and_every_reason_is_listed_in_rule_order() -> None:
    decision = evaluate(
        facts(
            age_years=17,
            pain_duration_months=2.0,
            systolic_bp=182,
            heart_rate=111,
            spo2=93,
            conditions=frozenset({"substance_use_history", "pregnancy"}),
            prior_therapies={},
        )
    )

    assert decision.outcome == "ineligible"
    assert codes(decision) == [
        "pregnancy",
        "substance_use_history",
        "minor",
        "blood_pressure_crisis",
        "tachycardia",
        "low_oxygen_saturation",
        "not_chronic",
        "first_line_not_exhausted",
    ]


def test_review_reasons_alone_give_review() -> None:
    decision = evaluate(facts(heart_rate=120, spo2=90))

    assert decision.outcome == "review"
    assert {r.outcome for r in decision.reasons} == {"review"}


def test_a_decision_records_the_policy_values_used() -> None:
    policy = EligibilityPolicy(max_heart_rate=100)

    decision = evaluate(facts(), policy)

    assert decision.policy == dataclasses.asdict(policy)
    assert decision.ruleset_version == RULESET_VERSION


# --- ruleset version -------------------------------------------------------------------------


def test_the_ruleset_version_is_a_readable_prefix_and_a_hash_of_the_rules() -> None:
    assert re.fullmatch(r"eligibility-[0-9a-f]{12}", RULESET_VERSION)
    assert eligibility.ruleset_version == RULESET_VERSION
    assert eligibility._version_of(ruleset_description()) == RULESET_VERSION


def test_the_ruleset_description_covers_every_rule_code_and_default() -> None:
    description = ruleset_description()

    assert description["conditions"] == CONTRACT_CONDITIONS
    assert description["default_policy"] == dataclasses.asdict(DEFAULT_POLICY)
    for part, codes_expected in (("rules", RULES), ("therapies", THERAPIES)):
        described = description[part]
        assert isinstance(described, dict)
        assert set(described) == set(codes_expected)


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["default_policy"].update(min_spo2=93),
        lambda d: d["default_policy"].update(chronic_pain_months=3),
        lambda d: d["conditions"].update(pregnancy="review"),
        lambda d: d["therapies"].update(tramadol="snri"),
        lambda d: d["rules"].update(tachycardia=["review", "heart_rate >= max_heart_rate"]),
        lambda d: d["counted_therapy_outcomes"].append("partial"),
        lambda d: d["plausible_ranges"].update(spo2=[0, 100]),
    ],
)
def test_any_change_to_a_rule_or_default_changes_the_version(change: object) -> None:
    description = ruleset_description()

    change(description)  # type: ignore[operator]

    assert eligibility._version_of(description) != RULESET_VERSION


def test_the_version_does_not_depend_on_hash_randomisation() -> None:
    code = "from ketaclinic.clinical.eligibility import RULESET_VERSION; print(RULESET_VERSION)"
    versions = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        versions.add(result.stdout.strip())
    assert versions == {RULESET_VERSION}


# --- properties ------------------------------------------------------------------------------

patients = st.builds(
    PatientFacts,
    age_years=st.integers(10, 90),
    pain_duration_months=st.floats(0, 120, allow_nan=False),
    systolic_bp=st.integers(90, 220),
    diastolic_bp=st.integers(50, 130),
    heart_rate=st.integers(40, 150),
    spo2=st.integers(85, 100),
    weight_kg=st.floats(30, 200, allow_nan=False),
    conditions=st.frozensets(st.sampled_from(sorted(CONDITIONS))),
    prior_therapies=st.dictionaries(
        st.sampled_from(sorted(THERAPIES)), st.sampled_from(THERAPY_OUTCOMES)
    ),
)


@given(patient=patients, condition=st.sampled_from(sorted(CONDITIONS)))
def test_adding_a_condition_never_improves_the_outcome(
    patient: PatientFacts, condition: str
) -> None:
    before = evaluate(patient)
    after = evaluate(dataclasses.replace(patient, conditions=patient.conditions | {condition}))

    assert SEVERITY[after.outcome] >= SEVERITY[before.outcome]
    assert set(codes(before)) <= set(codes(after))
    assert condition in codes(after)


@given(patient=patients)
def test_the_outcome_is_always_the_worst_reason(patient: PatientFacts) -> None:
    decision = evaluate(patient)

    expected = max((SEVERITY[r.outcome] for r in decision.reasons), default=0)
    assert SEVERITY[decision.outcome] == expected
    assert (decision.outcome == "eligible") == (decision.reasons == ())
    assert len(set(codes(decision))) == len(decision.reasons)
    assert not {"blood_pressure_crisis", "blood_pressure_elevated"} <= set(codes(decision))
    assert all(reason.message.endswith(".") and reason.source for reason in decision.reasons)


@given(patient=patients, therapy=st.sampled_from(sorted(FIRST_LINE)))
def test_recording_a_first_line_failure_never_worsens_the_outcome(
    patient: PatientFacts, therapy: str
) -> None:
    before = evaluate(patient)
    after = evaluate(
        dataclasses.replace(patient, prior_therapies={**patient.prior_therapies, therapy: "failed"})
    )

    assert SEVERITY[after.outcome] <= SEVERITY[before.outcome]
