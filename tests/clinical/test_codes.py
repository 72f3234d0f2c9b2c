"""The code table (ketaclinic.clinical.codes): every code named by its source, unknowns refused."""

from __future__ import annotations

import re

import pytest

from ketaclinic.clinical import codes
from ketaclinic.clinical.codes import (
    CAUSE_SYSTEMS,
    CODES,
    ICD10CM,
    LOINC,
    RXNORM,
    SNOMED,
    SYSTEMS,
    Code,
    UnknownCodeError,
    cause_codes,
    codes_in,
    from_key,
    lookup,
)

# docs/clinical-policy.md "Codes [8]": every code it names must be in the table.
CLINICAL_MD_CODES = [
    ("loinc", "72514-3"),
    ("loinc", "8480-6"),
    ("loinc", "8462-4"),
    ("loinc", "85354-9"),
    ("loinc", "8867-4"),
    ("loinc", "9279-1"),
    ("loinc", "59408-5"),
    ("loinc", "2708-6"),
    ("loinc", "29463-7"),
    ("loinc", "8302-2"),
    ("loinc", "39156-5"),
    ("loinc", "8310-5"),
    ("snomed", "247398009"),
    ("snomed", "230572002"),
    ("snomed", "2177002"),
    ("snomed", "24700007"),
    ("snomed", "128200000"),
    ("snomed", "82423001"),
    ("icd10cm", "E11.42"),
    ("icd10cm", "B02.29"),
    ("icd10cm", "G35.A"),
    ("icd10cm", "G35.D"),
    ("icd10cm", "A52.10"),
    ("icd10cm", "G90.50"),
    ("icd10cm", "G56.40"),
    ("icd10cm", "G57.70"),
    ("icd10cm", "G89.29"),
    ("icd10cm", "G89.4"),
    ("rxnorm", "6130"),
]


@pytest.mark.parametrize(("system", "code"), CLINICAL_MD_CODES)
def test_every_code_clinical_md_names_is_listed(system: str, code: str) -> None:
    found = lookup(system, code)
    assert (found.system, found.code) == (system, code)


def test_every_code_has_a_display_and_a_source_naming_the_evidence() -> None:
    for code in CODES.values():
        assert code.display.strip(), code
        # The source names the code set itself (and, in words, how sure the evidence is).
        assert code.system_name in code.source, code
        assert "confidence" in code.source or code.system == "loinc", code
        assert code.system in SYSTEMS


def test_loinc_observations_carry_ucum_units() -> None:
    units = {c.code: c.unit for c in codes_in("loinc")}
    assert units["8480-6"] == "mm[Hg]"
    assert units["8462-4"] == "mm[Hg]"
    assert units["8867-4"] == "/min"
    assert units["9279-1"] == "/min"
    assert units["59408-5"] == "%"
    assert units["2708-6"] == "%"
    assert units["8310-5"] == "Cel"
    assert units["8302-2"] == "cm"
    assert units["29463-7"] == "kg"
    assert units["39156-5"] == "kg/m2"
    # Panels have no value of their own, so no unit.
    assert units["85354-9"] is None
    assert units["85353-1"] is None


def test_codes_outside_loinc_have_no_unit() -> None:
    assert all(c.unit is None for c in CODES.values() if c.system != "loinc")


def test_non_billable_parents_and_doubtful_codes_are_left_out() -> None:
    for system, code in [
        ("icd10cm", "G35"),
        ("icd10cm", "G89.2"),
        ("icd10cm", "G90.5"),
        ("icd10cm", "A52.1"),
        ("snomed", "26039008"),
        ("snomed", "126663001"),
    ]:
        with pytest.raises(UnknownCodeError):
            lookup(system, code)


def test_icd10cm_codes_have_the_icd10cm_shape() -> None:
    shape = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
    for code in codes_in("icd10cm"):
        assert shape.match(code.code), code.code


def test_snomed_codes_are_digits_and_loinc_codes_have_a_check_digit() -> None:
    assert all(c.code.isdigit() for c in codes_in("snomed"))
    assert all(re.match(r"^\d{1,7}-\d$", c.code) for c in codes_in("loinc"))


def test_lookup_returns_the_code_with_its_system() -> None:
    found = lookup("snomed", "247398009")
    assert found == Code("snomed", "247398009", found.display, found.source)
    assert found.display == "Neuropathic pain"
    assert found.system_name == "SNOMED CT"
    assert found.system_uri == "http://snomed.info/sct"
    assert found.key == "snomed|247398009"


def test_lookup_ignores_surrounding_spaces() -> None:
    assert lookup("icd10cm", " E11.42 ").code == "E11.42"


def test_an_unknown_code_is_refused_naming_the_field() -> None:
    with pytest.raises(UnknownCodeError, match=r"^causes: 'E11\.99' is not a known ICD-10-CM code"):
        lookup("icd10cm", "E11.99", field="causes")


def test_an_unknown_system_is_refused_naming_the_field() -> None:
    with pytest.raises(UnknownCodeError, match=r"^code: unknown code system 'icd9'"):
        lookup("icd9", "250.60")


def test_a_system_that_is_not_text_is_refused() -> None:
    with pytest.raises(UnknownCodeError, match="unknown code system"):
        lookup(None, "250.60")  # type: ignore[arg-type]


def test_a_code_that_is_not_text_is_refused() -> None:
    with pytest.raises(UnknownCodeError, match=r"^code: a code must be text, not int"):
        lookup("rxnorm", 6130)  # type: ignore[arg-type]


def test_a_code_is_not_found_in_another_system() -> None:
    with pytest.raises(UnknownCodeError, match="not a known SNOMED CT code"):
        lookup("snomed", "E11.42")


def test_unknown_code_is_a_value_error() -> None:
    assert issubclass(UnknownCodeError, ValueError)


def test_from_key_reads_system_and_code() -> None:
    assert from_key("icd10cm|G35.A") is lookup("icd10cm", "G35.A")
    for code in CODES.values():
        assert from_key(code.key) is code


@pytest.mark.parametrize("key", ["E11.42", "", None])
def test_from_key_refuses_what_is_not_a_key(key: object) -> None:
    with pytest.raises(
        UnknownCodeError, match=r"^causes: .* is not a code \(expected system\|code\)"
    ):
        from_key(key, field="causes")  # type: ignore[arg-type]


def test_from_key_refuses_an_unknown_code() -> None:
    with pytest.raises(UnknownCodeError, match="not a known SNOMED CT code"):
        from_key("snomed|1")


def test_codes_in_lists_one_system_in_table_order() -> None:
    rx = codes_in("rxnorm")
    assert [c.code for c in rx] == ["6130"]
    snomed = codes_in("snomed")
    assert snomed[0].code == "247398009"
    assert all(c.system == "snomed" for c in snomed)


def test_codes_in_refuses_an_unknown_system() -> None:
    with pytest.raises(UnknownCodeError, match=r"^system: unknown code system 'icd11'"):
        codes_in("icd11")


def test_cause_codes_are_snomed_then_icd10cm() -> None:
    causes = cause_codes()
    assert CAUSE_SYSTEMS == ("snomed", "icd10cm")
    assert {c.system for c in causes} == {"snomed", "icd10cm"}
    first_icd = next(i for i, c in enumerate(causes) if c.system == "icd10cm")
    assert all(c.system == "snomed" for c in causes[:first_icd])
    assert all(c.system == "icd10cm" for c in causes[first_icd:])
    assert len(causes) == len(codes_in("snomed")) + len(codes_in("icd10cm"))


def test_systems_have_their_fhir_uris() -> None:
    assert SNOMED.uri == "http://snomed.info/sct"
    assert ICD10CM.uri == "http://hl7.org/fhir/sid/icd-10-cm"
    assert LOINC.uri == "http://loinc.org"
    assert RXNORM.uri == "http://www.nlm.nih.gov/research/umls/rxnorm"
    assert set(SYSTEMS) == {"snomed", "icd10cm", "loinc", "rxnorm"}


def test_codes_are_unique_per_system() -> None:
    assert len(CODES) == len(codes._ALL)


def test_the_module_imports_no_django() -> None:
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(codes))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert "django" not in imported
