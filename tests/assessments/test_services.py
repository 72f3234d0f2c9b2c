"""Consultation services: history, exam, DN4, grade, the eligibility decision, signing, addenda.

Every refusal names its field and leaves the database as it was (rows, version, audit trail).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from ketaclinic.assessments import selectors, services
from ketaclinic.assessments.models import (
    Addendum,
    Cause,
    Consultation,
    DecisionStatus,
    EligibilityDecision,
    Observation,
    PriorTreatment,
    TherapyOutcome,
)
from ketaclinic.audit.models import AuditEvent
from ketaclinic.clinical.eligibility import RULESET_VERSION, THERAPY_OUTCOMES
from ketaclinic.clinics.models import ClinicPolicy
from ketaclinic.clinics.selectors import clinic_policy_current
from tests import factories
from tests.conftest import World
from tests.factories.assessments import actor, complete, exam, grade, history, signed, start

pytestmark = pytest.mark.django_db


def events(action: str | None = None, object_type: str | None = None) -> list[AuditEvent]:
    qs = AuditEvent.objects.order_by("id")
    if action:
        qs = qs.filter(action=action)
    if object_type:
        qs = qs.filter(object_type=object_type)
    return list(qs)


def snapshot(c: Consultation) -> dict[str, Any]:
    """Everything a refused write must leave untouched."""
    c = Consultation.objects.get(pk=c.pk)
    return {
        "row": {f.attname: getattr(c, f.attname) for f in Consultation._meta.concrete_fields},
        "causes": list(Cause.objects.filter(consultation=c).values_list("system", "code")),
        "treatments": list(
            PriorTreatment.objects.filter(consultation=c).values_list("therapy", "outcome")
        ),
        "observations": list(
            Observation.objects.filter(consultation=c).values_list("loinc", "value")
        ),
        "decision": list(EligibilityDecision.objects.filter(consultation=c).values()),
        "addenda": Addendum.objects.filter(consultation=c).count(),
        "audit": AuditEvent.objects.count(),
    }


def save_exam(world: World, c: Consultation, **overrides: Any) -> Consultation:
    return services.consultation_exam_save(
        actor=actor(world),
        public_id=str(c.public_id),
        expected_version=c.version,
        exam=exam(**overrides),
    )


def test_therapy_outcomes_match_the_clinical_core() -> None:
    assert tuple(TherapyOutcome.values) == THERAPY_OUTCOMES


# --- start -----------------------------------------------------------------------------------


def test_a_physician_starts_a_draft_consultation(world: World) -> None:
    c = start(world)
    assert c.status == "draft"
    assert c.version == 1
    assert c.clinic_id == world.clinic.pk
    assert c.created_by == world.physician
    assert c.exam_date == timezone.localdate()
    [event] = events("create", "consultation")
    assert event.object_id == str(c.public_id)
    assert event.patient_id == world.alice_patient.pk
    assert event.actor == world.physician


@pytest.mark.parametrize("persona", ["nurse", "clinic_admin", "front_desk", "alice"])
def test_only_a_physician_starts_a_consultation(world: World, persona: str) -> None:
    with pytest.raises(Http404):
        services.consultation_start(
            actor=actor(world, persona), patient_public_id=str(world.alice_patient.public_id)
        )
    assert Consultation.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_another_clinics_patient_is_not_found(world: World) -> None:
    with pytest.raises(Http404):
        start(world, world.other_patient)
    assert Consultation.objects.count() == 0


def test_an_exam_date_in_the_future_is_refused(world: World) -> None:
    with pytest.raises(ValidationError) as exc:
        start(world, exam_date=timezone.localdate() + dt.timedelta(days=2))
    assert "Exam date cannot be in the future" in str(exc.value.message_dict["exam_date"])
    assert Consultation.objects.count() == 0


def test_an_appointment_must_be_the_patients(world: World) -> None:
    with pytest.raises(ValidationError) as exc:
        start(world, appointment_public_id="6f1b5b9e-4d1c-4c36-9a57-2f0b2d6c1a11")
    assert "this patient's appointments" in str(exc.value.message_dict["appointment"])
    assert Consultation.objects.count() == 0


# --- history ---------------------------------------------------------------------------------


def test_history_stores_coded_causes_and_prior_treatments(world: World) -> None:
    c = start(world)
    c = services.consultation_history_save(
        actor=actor(world), public_id=str(c.public_id), expected_version=1, history=history()
    )
    assert c.version == 2
    assert c.pain_duration_months == 18.0
    assert c.pain_regions == ["lower_limb_left", "lower_limb_right"]
    causes = {(x.system, x.code, x.display) for x in c.causes.all()}
    assert causes == {
        ("snomed", "230572002", "Neuropathy due to diabetes mellitus"),
        ("icd10cm", "E11.42", "Type 2 diabetes mellitus with diabetic polyneuropathy"),
    }
    assert dict(c.prior_treatments.values_list("therapy", "outcome")) == {
        "gabapentin": "failed",
        "otc_analgesics": "partial",
    }
    [event] = events("update", "consultation")
    assert event.detail["section"] == "history"
    assert "causes" in event.detail["fields"]
    assert "prior_treatments" in event.detail["fields"]
    # Field names only: the audit trail holds no clinical values.
    assert "Burning feet" not in str(event.detail)


def test_history_save_replaces_causes_and_treatments(world: World) -> None:
    c = complete(world)
    c = services.consultation_history_save(
        actor=actor(world),
        public_id=str(c.public_id),
        expected_version=c.version,
        history=history(causes=["icd10cm|B02.29"], prior_treatments={"pregabalin": "intolerant"}),
    )
    assert list(c.causes.values_list("code", flat=True)) == ["B02.29"]
    assert dict(c.prior_treatments.values_list("therapy", "outcome")) == {
        "pregabalin": "intolerant"
    }


def test_a_cause_kept_across_history_saves_keeps_its_id(world: World) -> None:
    c = complete(world)  # causes snomed|230572002 and icd10cm|E11.42
    ids = dict(c.causes.values_list("code", "public_id"))
    c = services.consultation_history_save(
        actor=actor(world),
        public_id=str(c.public_id),
        expected_version=c.version,
        history=history(causes=["icd10cm|E11.42", "icd10cm|B02.29"]),
    )
    now = dict(c.causes.values_list("code", "public_id"))
    assert set(now) == {"E11.42", "B02.29"}
    assert now["E11.42"] == ids["E11.42"]  # kept: the same Condition
    assert now["B02.29"] not in ids.values()


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"causes": ["icd10cm|E11.99"]}, "causes", "'E11.99' is not a known ICD-10-CM code"),
        ({"causes": ["snomed|999999"]}, "causes", "not a known SNOMED CT code"),
        ({"causes": ["loinc|8480-6"]}, "causes", "causes are coded in SNOMED CT or ICD-10-CM"),
        ({"causes": ["E11.42"]}, "causes", "expected system|code"),
        ({"prior_treatments": {"aspirin": "failed"}}, "prior_treatments", "unknown therapy"),
        ({"prior_treatments": {"gabapentin": "meh"}}, "prior_treatments", "unknown outcome"),
        ({"conditions": ["gout"]}, "conditions", "Unknown condition code 'gout'"),
        ({"pain_regions": ["tail"]}, "pain_regions", "Unknown body region 'tail'"),
        ({"pain_descriptors": ["sad"]}, "pain_descriptors", "Unknown pain descriptor"),
        ({"pain_duration_months": -1.0}, "pain_duration_months", "Pain duration (months)"),
        ({"pain_nrs": 11}, "pain_nrs", "Pain now (0-10 numeric rating)"),
    ],
)
def test_bad_history_is_refused_naming_the_field_and_nothing_changes(
    world: World, overrides: dict[str, Any], field: str, words: str
) -> None:
    c = complete(world)
    before = snapshot(c)
    with pytest.raises(ValidationError) as exc:
        services.consultation_history_save(
            actor=actor(world),
            public_id=str(c.public_id),
            expected_version=c.version,
            history=history(**overrides),
        )
    assert words in " ".join(exc.value.message_dict[field])
    assert snapshot(c) == before


# --- exam ------------------------------------------------------------------------------------


def test_exam_stores_vitals_as_loinc_observations_with_ucum_units(world: World) -> None:
    c = start(world)
    c = save_exam(world, c)
    rows = {o.loinc: (o.value, o.unit) for o in c.observations.all()}
    assert rows == {
        "8480-6": (128.0, "mm[Hg]"),
        "8462-4": (82.0, "mm[Hg]"),
        "8867-4": (72.0, "/min"),
        "9279-1": (14.0, "/min"),
        "59408-5": (98.0, "%"),
        "2708-6": (98.0, "%"),
        "8310-5": (36.8, "Cel"),
        "29463-7": (82.5, "kg"),
        "8302-2": (178.0, "cm"),
        "39156-5": (26.0, "kg/m2"),
    }
    assert all(o.effective_date == c.exam_date for o in c.observations.all())
    [event] = events("update", "consultation")
    assert event.detail["section"] == "exam"
    assert "spo2" in event.detail["fields"]


def test_a_measurement_kept_across_exam_saves_keeps_its_row_and_id(world: World) -> None:
    c = save_exam(world, start(world))
    first = {o.loinc: (o.public_id, o.value) for o in c.observations.all()}
    c = save_exam(world, c, heart_rate=88, temperature_c=None)
    now = {o.loinc: (o.public_id, o.value) for o in c.observations.all()}
    assert now["8867-4"] == (first["8867-4"][0], 88.0)  # the same row, the value brought up
    assert now["8480-6"] == first["8480-6"]  # unchanged
    assert "8310-5" not in now  # no temperature any more: its row is gone
    c = save_exam(world, c)
    again = {o.loinc: o.public_id for o in c.observations.all()}
    assert again["8310-5"] not in {public_id for public_id, _ in first.values()}  # a new one
    assert again["8480-6"] == first["8480-6"][0]
    assert set(again) == set(first)


def test_optional_vitals_may_be_left_out(world: World) -> None:
    c = save_exam(world, start(world), temperature_c=None, respiratory_rate=None, height_cm=None)
    codes = set(c.observations.values_list("loinc", flat=True))
    assert "8310-5" not in codes
    assert "9279-1" not in codes
    assert "8302-2" not in codes
    assert "39156-5" not in codes  # no BMI without a height
    assert c.bmi is None


def test_the_full_dn4_is_scored_by_the_clinical_core(world: World) -> None:
    c = save_exam(world, start(world))
    assert c.dn4_total == 5
    assert c.dn4_positive is True
    assert c.dn4_answers["brushing"] is True


def test_no_dn4_answers_means_not_done(world: World) -> None:
    c = save_exam(world, start(world), dn4=None)
    assert c.dn4_total is None
    assert c.dn4_positive is None
    assert c.dn4_answers == {}


def test_a_partial_dn4_is_refused_naming_each_missing_item(world: World) -> None:
    c = start(world)
    before = snapshot(c)
    with pytest.raises(ValidationError) as exc:
        save_exam(world, c, dn4={"burning": True, "itching": False})
    errors = exc.value.message_dict
    assert "DN4 brushing: missing answer" in errors["dn4_brushing"]
    assert "dn4_touch_hypoesthesia" in errors
    assert "dn4_burning" not in errors
    assert snapshot(c) == before


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"spo2": 101}, "spo2", "SpO2 (%) must be between 50 and 100; 101 is outside"),
        ({"spo2": 30}, "spo2", "SpO2 (%) must be between 50 and 100"),
        (
            {"systolic_bp": 80, "diastolic_bp": 95},
            "systolic_bp",
            "Systolic BP (80 mmHg) must be higher than diastolic BP (95 mmHg)",
        ),
        ({"systolic_bp": 90, "diastolic_bp": 90}, "systolic_bp", "must be higher than"),
        ({"weight_kg": 0.0}, "weight_kg", "Weight (kg) must be between 2 and 400; 0 is outside"),
        ({"height_cm": 300.0}, "height_cm", "Height (cm) must be between 50 and 272; 300 is"),
        ({"height_cm": 1.75}, "height_cm", "1.75 m is 175 cm"),
        ({"heart_rate": 400}, "heart_rate", "Heart rate (/min) must be between"),
        ({"respiratory_rate": 1}, "respiratory_rate", "Respiratory rate (/min) must be"),
        ({"temperature_c": 98.6}, "temperature_c", "degrees Celsius"),
        ({"sensory_signs": ["glowing"]}, "sensory_signs", "Unknown sensory sign"),
    ],
)
def test_bad_exam_values_are_refused_naming_the_field_and_nothing_changes(
    world: World, overrides: dict[str, Any], field: str, words: str
) -> None:
    c = complete(world)
    before = snapshot(c)
    with pytest.raises(ValidationError) as exc:
        save_exam(world, c, **overrides)
    assert words in " ".join(exc.value.message_dict[field])
    assert snapshot(c) == before


def test_the_database_refuses_impossible_vitals_even_without_the_service(world: World) -> None:
    c = start(world)
    for field, value in [("spo2", 101), ("height_cm", 300.0), ("weight_kg", 0.0)]:
        with pytest.raises(IntegrityError), transaction.atomic():
            Consultation.objects.filter(pk=c.pk).update(**{field: value})
    with pytest.raises(IntegrityError), transaction.atomic():
        Consultation.objects.filter(pk=c.pk).update(systolic_bp=80, diastolic_bp=95)


# --- grade -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, "probable"),
        ({"confirmatory_test": True}, "definite"),
        ({"sensory_signs": False}, "possible"),
        ({"plausible_distribution": False}, "unlikely"),
    ],
)
def test_the_neupsig_grade_comes_from_the_clinical_core(
    world: World, overrides: dict[str, bool], expected: str
) -> None:
    c = start(world)
    c = services.consultation_grade_save(
        actor=actor(world),
        public_id=str(c.public_id),
        expected_version=1,
        grade=grade(**overrides),
    )
    assert c.neuropathic_grade == expected
    [event] = events("update", "consultation")
    assert event.detail["section"] == "grade"


def test_a_grade_finding_that_is_not_a_yes_or_no_is_refused(world: World) -> None:
    c = start(world)
    before = snapshot(c)
    with pytest.raises(ValidationError, match="sensory_signs"):
        services.consultation_grade_save(
            actor=actor(world),
            public_id=str(c.public_id),
            expected_version=1,
            grade=grade(sensory_signs=None),
        )
    assert snapshot(c) == before


# --- the eligibility decision ----------------------------------------------------------------


def test_no_decision_until_the_facts_it_needs_are_recorded(world: World) -> None:
    c = start(world)
    c = services.consultation_history_save(
        actor=actor(world), public_id=str(c.public_id), expected_version=1, history=history()
    )
    assert not EligibilityDecision.objects.exists()
    assert c.missing_facts() == [
        "systolic blood pressure",
        "diastolic blood pressure",
        "heart rate",
        "SpO2",
        "weight",
    ]


def test_the_decision_stores_outcome_reasons_ruleset_policy_and_facts(world: World) -> None:
    c = complete(world)
    d = EligibilityDecision.objects.get(consultation=c)
    policy = clinic_policy_current(clinic_id=world.clinic.pk)
    assert d.outcome == "review"
    assert d.status == "draft"
    assert d.final_outcome == ""
    assert [r["code"] for r in d.reasons] == ["first_line_not_exhausted"]
    reason = d.reasons[0]
    assert reason["outcome"] == "review"
    assert "1 of 3 first-line drug classes" in reason["message"]
    assert "Finnerup" in reason["source"]
    assert reason["threshold"].startswith("Fewer than 2 of the 3 first-line classes")
    assert d.ruleset_version == RULESET_VERSION
    assert d.policy_version == policy.version
    assert d.policy_values["min_spo2"] == 94
    assert d.policy_values["policy_version"] == policy.version
    assert d.policy_values["eligibility"]["crisis_systolic_bp"] == 180
    assert d.facts == {
        "age_years": d.facts["age_years"],
        "pain_duration_months": 18.0,
        "systolic_bp": 128,
        "diastolic_bp": 82,
        "heart_rate": 72,
        "spo2": 98,
        "weight_kg": 82.5,
        "conditions": [],
        "prior_therapies": {"gabapentin": "failed", "otc_analgesics": "partial"},
    }
    # A section save is one write: the decision it created is in the save's one event.
    assert events("create", "eligibility_decision") == []
    created = [
        e.detail["decision"] for e in events("update", "consultation") if "decision" in e.detail
    ]
    assert [(c["change"], c["id"]) for c in created] == [("create", str(d.public_id))]


def test_an_eligible_patient_gets_no_reasons(world: World) -> None:
    c = complete(
        world,
        history_input=history(
            prior_treatments={"gabapentin": "failed", "duloxetine": "intolerant"}
        ),
    )
    assert c.decision.outcome == "eligible"
    assert c.decision.reasons == []


def test_a_blood_pressure_crisis_makes_the_patient_ineligible_with_its_threshold(
    world: World,
) -> None:
    c = complete(world, exam_input=exam(systolic_bp=185, diastolic_bp=100))
    d = c.decision
    assert d.outcome == "ineligible"
    crisis = next(r for r in d.reasons if r["code"] == "blood_pressure_crisis")
    assert crisis["outcome"] == "ineligible"
    assert crisis["threshold"] == "Systolic ≥ 180 mmHg or diastolic ≥ 110 mmHg"
    assert "Cohen" in crisis["source"]


def test_contraindications_from_the_history_give_their_reasons(world: World) -> None:
    c = complete(world, history_input=history(conditions=["pregnancy", "psychosis_history"]))
    codes = [r["code"] for r in c.decision.reasons]
    assert codes[:2] == ["pregnancy", "psychosis_history"]
    assert c.decision.outcome == "ineligible"
    assert c.decision.reasons[0]["threshold"] == "Pregnancy recorded in the history"


def test_the_clinics_own_thresholds_are_used_and_recorded(world: World) -> None:
    current = clinic_policy_current(clinic_id=world.clinic.pk)
    newer = ClinicPolicy.objects.get(pk=current.pk)
    newer.pk = None
    newer.version = current.version + 1
    newer.max_heart_rate = 70
    newer.save()
    c = complete(world)
    d = c.decision
    tachy = next(r for r in d.reasons if r["code"] == "tachycardia")
    assert "above the maximum of 70/min" in tachy["message"]
    assert tachy["threshold"] == "Heart rate over 70/min"
    assert d.policy_version == newer.version
    assert d.policy_values["max_heart_rate"] == 70


def test_age_is_taken_on_the_exam_date(world: World) -> None:
    exam_day = timezone.localdate() - dt.timedelta(days=30)
    # Eighteen the day after the exam: a minor on the exam date.
    born = exam_day.replace(year=exam_day.year - 18) + dt.timedelta(days=1)
    teen = factories.make_patient(world.clinic, given="Tess", date_of_birth=born)
    c = start(world, teen, exam_date=exam_day)
    c = services.consultation_history_save(
        actor=actor(world), public_id=str(c.public_id), expected_version=1, history=history()
    )
    c = save_exam(world, c)
    d = c.decision
    assert d.facts["age_years"] == 17
    minor = next(r for r in d.reasons if r["code"] == "minor")
    assert minor["outcome"] == "ineligible"
    assert minor["threshold"] == "Age under 18 years"


def test_age_on_counts_completed_years() -> None:
    assert services.age_on(dt.date(2000, 6, 15), dt.date(2018, 6, 14)) == 17
    assert services.age_on(dt.date(2000, 6, 15), dt.date(2018, 6, 15)) == 18
    assert services.age_on(dt.date(2000, 2, 29), dt.date(2018, 2, 28)) == 17
    assert services.age_on(dt.date(2000, 2, 29), dt.date(2018, 3, 1)) == 18


def test_the_draft_decision_follows_every_edit(world: World) -> None:
    c = complete(world)
    first = c.decision.public_id
    c = save_exam(world, c, spo2=91)
    d = EligibilityDecision.objects.get(consultation=c)
    assert d.public_id == first
    assert "low_oxygen_saturation" in [r["code"] for r in d.reasons]
    assert events("update", "consultation")[-1].detail["decision"]["change"] == "update"
    c = save_exam(world, c, weight_kg=None)
    assert not EligibilityDecision.objects.filter(consultation=c).exists()
    dropped = events("update", "consultation")[-1].detail["decision"]
    assert (dropped["change"], dropped["id"]) == ("delete", str(first))
    assert events(object_type="eligibility_decision") == []


def test_reason_threshold_covers_every_rule() -> None:
    from ketaclinic.clinical.eligibility import CONDITIONS, DEFAULT_POLICY, RULES

    for code in [*RULES, *CONDITIONS]:
        assert services.reason_threshold(code, DEFAULT_POLICY), code
    assert services.reason_threshold("not_chronic", DEFAULT_POLICY) == "Pain for 3 months or less"
    assert services.reason_threshold("no_such_rule", DEFAULT_POLICY) == ""


# --- signing ---------------------------------------------------------------------------------


def test_a_physician_signs_and_the_record_locks(world: World) -> None:
    c = complete(world)
    d = services.decision_sign(
        actor=actor(world), public_id=str(c.public_id), expected_version=c.version
    )
    c.refresh_from_db()
    assert d.status == "signed"
    assert d.final_outcome == "review"
    assert d.signed_by == world.physician
    assert c.status == "signed"
    assert c.signed_by == world.physician
    assert c.is_locked
    [event] = events("sign", "eligibility_decision")
    assert event.object_id == str(d.public_id)
    assert event.detail["consultation"] == str(c.public_id)
    assert event.detail["policy_version"] == d.policy_version
    assert event.patient_id == world.alice_patient.pk


@pytest.mark.parametrize("persona", ["nurse", "clinic_admin", "front_desk", "other_physician"])
def test_only_a_physician_of_the_clinic_signs(world: World, persona: str) -> None:
    c = complete(world)
    before = snapshot(c)
    with pytest.raises(Http404):
        services.decision_sign(
            actor=actor(world, persona), public_id=str(c.public_id), expected_version=c.version
        )
    with pytest.raises(Http404):
        services.decision_override(
            actor=actor(world, persona),
            public_id=str(c.public_id),
            expected_version=c.version,
            outcome="eligible",
            reason="Tried duloxetine elsewhere, not tolerated.",
        )
    assert snapshot(c) == before


def test_an_override_needs_a_written_reason_and_a_different_outcome(world: World) -> None:
    c = complete(world)
    before = snapshot(c)
    for outcome, reason, field, words in [
        ("eligible", "", "reason", "Override reason: write why"),
        ("eligible", "ok", "reason", "at least 10 characters"),
        ("review", "The rules say review anyway.", "outcome", "sign the decision instead"),
        ("maybe", "Long enough reason here.", "outcome", "choose eligible, review or ineligible"),
    ]:
        with pytest.raises(ValidationError) as exc:
            services.decision_override(
                actor=actor(world),
                public_id=str(c.public_id),
                expected_version=c.version,
                outcome=outcome,
                reason=reason,
            )
        assert words in " ".join(exc.value.message_dict[field])
    assert snapshot(c) == before


def test_a_physician_overrides_with_a_reason(world: World) -> None:
    c = complete(world)
    reason = "Duloxetine was stopped for intolerance at another clinic (letter on file)."
    d = services.decision_override(
        actor=actor(world),
        public_id=str(c.public_id),
        expected_version=c.version,
        outcome="eligible",
        reason=reason,
    )
    c.refresh_from_db()
    assert d.status == DecisionStatus.OVERRIDDEN
    assert d.outcome == "review"  # the rules' outcome is kept
    assert d.final_outcome == "eligible"
    assert d.override_reason == reason
    assert c.is_locked
    [event] = events("override", "eligibility_decision")
    assert event.detail["from"] == "review"
    assert event.detail["to"] == "eligible"
    assert "letter on file" not in str(event.detail)


def test_signing_without_a_decision_is_refused(world: World) -> None:
    c = start(world)
    before = snapshot(c)
    with pytest.raises(ValidationError, match="record pain duration, systolic blood pressure"):
        services.decision_sign(actor=actor(world), public_id=str(c.public_id), expected_version=1)
    assert snapshot(c) == before


def test_a_signed_record_cannot_be_edited(world: World) -> None:
    c = signed(world)
    before = snapshot(c)
    attempts: list[Callable[[], object]] = [
        lambda: services.consultation_history_save(
            actor=actor(world),
            public_id=str(c.public_id),
            expected_version=c.version,
            history=history(pain_duration_months=2.0),
        ),
        lambda: save_exam(world, c, spo2=90),
        lambda: services.consultation_grade_save(
            actor=actor(world),
            public_id=str(c.public_id),
            expected_version=c.version,
            grade=grade(confirmatory_test=True),
        ),
        lambda: services.decision_sign(
            actor=actor(world), public_id=str(c.public_id), expected_version=c.version
        ),
        lambda: services.decision_override(
            actor=actor(world),
            public_id=str(c.public_id),
            expected_version=c.version,
            outcome="ineligible",
            reason="Changed my mind after signing.",
        ),
    ]
    for attempt in attempts:
        with pytest.raises(services.ConsultationLockedError, match=r"signed .* and is locked"):
            attempt()
    assert snapshot(c) == before


def test_a_stale_form_is_refused(world: World) -> None:
    c = complete(world)
    stale = c.version - 1
    before = snapshot(c)
    with pytest.raises(ValidationError, match="changed by someone else"):
        services.consultation_exam_save(
            actor=actor(world),
            public_id=str(c.public_id),
            expected_version=stale,
            exam=exam(spo2=90),
        )
    with pytest.raises(ValidationError, match="changed by someone else"):
        services.decision_sign(
            actor=actor(world), public_id=str(c.public_id), expected_version=stale
        )
    assert snapshot(c) == before


def test_signing_after_the_policy_changed_asks_for_a_re_evaluation(world: World) -> None:
    c = complete(world)
    current = clinic_policy_current(clinic_id=world.clinic.pk)
    newer = ClinicPolicy.objects.get(pk=current.pk)
    newer.pk = None
    newer.version = current.version + 1
    newer.first_line_classes_required = 1
    newer.save()
    before = snapshot(c)
    with pytest.raises(ValidationError, match="settings changed"):
        services.decision_sign(
            actor=actor(world), public_id=str(c.public_id), expected_version=c.version
        )
    assert snapshot(c) == before
    d = services.decision_reevaluate(
        actor=actor(world), public_id=str(c.public_id), expected_version=c.version
    )
    assert d is not None
    assert d.policy_version == newer.version
    assert d.outcome == "eligible"
    reevaluated = events("update", "eligibility_decision")[-1]
    assert reevaluated.object_id == str(d.public_id)
    assert reevaluated.detail["policy_version"] == newer.version
    c.refresh_from_db()
    signed_d = services.decision_sign(
        actor=actor(world), public_id=str(c.public_id), expected_version=c.version
    )
    assert signed_d.final_outcome == "eligible"


# --- addenda ---------------------------------------------------------------------------------


def test_an_addendum_corrects_a_signed_record(world: World) -> None:
    c = signed(world)
    a = services.addendum_add(
        actor=actor(world), public_id=str(c.public_id), text="  Weight re-measured: 81 kg.  "
    )
    assert a.text == "Weight re-measured: 81 kg."
    assert a.author == world.physician
    assert a.created_at is not None
    c.refresh_from_db()
    assert c.weight_kg == 82.5  # the signed record itself is unchanged
    [event] = events("create", "consultation_addendum")
    assert event.object_id == str(c.public_id)
    assert "81 kg" not in str(event.detail)


def test_addenda_are_refused_on_drafts_and_when_empty(world: World) -> None:
    draft = complete(world)
    before = snapshot(draft)
    with pytest.raises(ValidationError, match="still a draft"):
        services.addendum_add(actor=actor(world), public_id=str(draft.public_id), text="x")
    assert snapshot(draft) == before
    c = signed(world, world.bob_patient)
    before = snapshot(c)
    with pytest.raises(ValidationError, match="write the correction"):
        services.addendum_add(actor=actor(world), public_id=str(c.public_id), text="   ")
    with pytest.raises(Http404):
        services.addendum_add(actor=actor(world, "nurse"), public_id=str(c.public_id), text="x")
    assert snapshot(c) == before


# --- selectors -------------------------------------------------------------------------------


def test_latest_body_measurements_come_from_the_newest_exam_with_both(world: World) -> None:
    patient = world.alice_patient
    assert selectors.latest_body_measurements(patient=patient) is None
    old = start(world, exam_date=timezone.localdate() - dt.timedelta(days=60))
    save_exam(world, old, weight_kg=90.0, height_cm=180.0)
    newer = start(world, exam_date=timezone.localdate() - dt.timedelta(days=10))
    save_exam(world, newer, weight_kg=85.0, height_cm=None)  # no height: skipped
    assert selectors.latest_body_measurements(patient=patient) == (90.0, 180.0)
    newest = start(world)
    save_exam(world, newest, weight_kg=84.0, height_cm=179.0)
    assert selectors.latest_body_measurements(patient=patient) == (84.0, 179.0)
    assert selectors.latest_body_measurements(patient=world.bob_patient) is None


def test_latest_decision_is_the_newest_signed_one(world: World) -> None:
    patient = world.alice_patient
    assert selectors.latest_decision(patient=patient) is None
    complete(world)  # a draft decides nothing
    assert selectors.latest_decision(patient=patient) is None
    first = signed(world)
    d = selectors.latest_decision(patient=patient)
    assert d is not None
    assert d.consultation_id == first.pk
    assert d.final_outcome == "review"
    assert d.is_signed


def test_the_consultation_page_read_is_audited(world: World) -> None:
    c = complete(world)
    before = AuditEvent.objects.count()
    page = selectors.consultation_page(actor=actor(world, "nurse"), public_id=str(c.public_id))
    assert page.decision is not None
    assert [r.key for r in page.dn4_rows][:2] == ["burning", "painful_cold"]
    assert page.dn4_rows[-1].part == "examination"
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.order_by("-id").first()
    assert event is not None
    assert (event.action, event.object_type, event.object_id) == (
        "read",
        "consultation",
        str(c.public_id),
    )
    assert event.actor == world.nurse


@pytest.mark.parametrize("persona", ["front_desk", "alice", "other_physician"])
def test_the_consultation_page_is_not_found_outside_clinical_staff(
    world: World, persona: str
) -> None:
    c = complete(world)
    before = AuditEvent.objects.count()
    with pytest.raises(Http404):
        selectors.consultation_page(actor=actor(world, persona), public_id=str(c.public_id))
    assert AuditEvent.objects.count() == before
