"""Code tables: the SNOMED CT, ICD-10-CM, LOINC and RxNorm codes ketaclinic records.

A pure table, no Django. A consultation's causes are coded in SNOMED CT and ICD-10-CM; exam
observations carry LOINC codes with UCUM units; ketamine is RxNorm 6130. Only codes listed here
can be recorded: ``lookup`` refuses any other with ``UnknownCodeError`` naming the field, so a typo
never becomes a code nobody can interpret.

Sources: docs/clinical-policy.md "Codes [8]" and docs/clinical-sources.md §8.1, §8.2, §8.3, §8.4,
§8.5 (LOINC vital signs, FHIR core vital-signs value set; pain instruments; SNOMED CT; ICD-10-CM
FY2026; RxNorm). Each code's ``source`` names the code set and profile, not a file, and says in
words how sure the evidence is.
Deliberately left out:

- ICD-10-CM parents that are not billable (G89.2, G90.5, A52.1) and G35, which is no longer
  billable from 1 October 2025 (docs/clinical-sources.md §8.4): the billable children are listed
  instead.
- SNOMED CT 26039008 (neurosyphilis): not confirmed in a source read
  (docs/clinical-sources.md §8.3); neurosyphilis is coded with ICD-10-CM A52.x. M79.2 (neuralgia,
  unspecified): not confirmed for FY2026 (docs/clinical-sources.md §8.4).
- SNOMED CT 126663001 for diabetic neuropathy: doubtful (docs/clinical-sources.md §8.3);
  230572002 is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = [
    "CAUSE_SYSTEMS",
    "CODES",
    "ICD10CM",
    "LOINC",
    "RXNORM",
    "SNOMED",
    "SYSTEMS",
    "Code",
    "CodeSystem",
    "UnknownCodeError",
    "cause_codes",
    "codes_in",
    "from_key",
    "lookup",
]


class UnknownCodeError(ValueError):
    """A code (or code system) that is not in the table."""


@dataclass(frozen=True)
class CodeSystem:
    """A code system: a short key used in storage, its name, and its FHIR system URI."""

    key: str
    name: str
    uri: str


SNOMED: Final = CodeSystem("snomed", "SNOMED CT", "http://snomed.info/sct")
ICD10CM: Final = CodeSystem("icd10cm", "ICD-10-CM", "http://hl7.org/fhir/sid/icd-10-cm")
LOINC: Final = CodeSystem("loinc", "LOINC", "http://loinc.org")
RXNORM: Final = CodeSystem("rxnorm", "RxNorm", "http://www.nlm.nih.gov/research/umls/rxnorm")

SYSTEMS: Mapping[str, CodeSystem] = MappingProxyType(
    {s.key: s for s in (SNOMED, ICD10CM, LOINC, RXNORM)}
)
"""Code systems by key."""

CAUSE_SYSTEMS: Final[tuple[str, ...]] = (SNOMED.key, ICD10CM.key)
"""The systems a cause of pain may be coded in."""


@dataclass(frozen=True)
class Code:
    """One code: its system key, the code, a display text, the source, and a UCUM unit for LOINC
    observations that have one."""

    system: str
    code: str
    display: str
    source: str
    unit: str | None = None

    @property
    def key(self) -> str:
        """``system|code``: how forms and storage name a code in one string."""
        return f"{self.system}|{self.code}"

    @property
    def system_name(self) -> str:
        return SYSTEMS[self.system].name

    @property
    def system_uri(self) -> str:
        return SYSTEMS[self.system].uri


# --- sources ---------------------------------------------------------------------------------
# Shown on pages and in exports, so they name the code set, never a file. Where each is recorded:
# docs/clinical-sources.md §8.1, §8.2, §8.3, §8.4, §8.5 (LOINC vital signs; pain NRS; SNOMED CT;
# ICD-10-CM; RxNorm).

_VITALS = (
    "LOINC, as bound by the HL7 FHIR R4 vital-signs value set "
    "(hl7.org/fhir/valueset-observation-vitalsignresult) and profiles"
)
_PULSE_OX = (
    "LOINC; the HL7 US Core pulse-oximetry profile (hl7.org/fhir/us/core STU7) requires both "
    "2708-6 and 59408-5"
)
_NRS = (
    "LOINC 72514-3 pain severity 0-10 verbal numeric rating (HL7 Belgium patient-monitoring IG; "
    "ANS France IG uses unit code '1')"
)
_SCT = "SNOMED CT (SNOMED International)"
_ICD = "ICD-10-CM FY2026 code set (effective 1 Oct 2025)"
_RX = "RxNorm (US National Library of Medicine)"

# Plain words for the evidence tags of docs/clinical-sources.md "How to read this file".
_HIGH = "confirmed in published code lists; high confidence"
_V_MEDIUM = "seen in public code lists; medium confidence"
_M_MEDIUM = "not confirmed in a primary source; medium confidence: verify before relying on it"
_M_HIGH = "not confirmed in a primary source, but widely used; high confidence"


def _loinc(code: str, display: str, unit: str | None, source: str = _VITALS) -> Code:
    return Code(LOINC.key, code, display, source, unit)


def _sct(code: str, display: str, note: str = _HIGH) -> Code:
    return Code(SNOMED.key, code, display, f"{_SCT}; {note}")


def _icd(code: str, display: str, note: str = _HIGH) -> Code:
    return Code(ICD10CM.key, code, display, f"{_ICD}; {note}")


_ALL: tuple[Code, ...] = (
    # LOINC: vital signs and body measurements (UCUM units), and the pain NRS.
    _loinc("85353-1", "Vital signs panel", None),
    _loinc("85354-9", "Blood pressure panel", None),
    _loinc("8480-6", "Systolic blood pressure", "mm[Hg]"),
    _loinc("8462-4", "Diastolic blood pressure", "mm[Hg]"),
    _loinc("8867-4", "Heart rate", "/min"),
    _loinc("9279-1", "Respiratory rate", "/min"),
    _loinc("2708-6", "Oxygen saturation in arterial blood", "%", _PULSE_OX),
    _loinc("59408-5", "Oxygen saturation by pulse oximetry", "%", _PULSE_OX),
    _loinc("8310-5", "Body temperature", "Cel"),
    _loinc("8302-2", "Body height", "cm"),
    _loinc("29463-7", "Body weight", "kg"),
    _loinc("39156-5", "Body mass index", "kg/m2"),
    _loinc("72514-3", "Pain severity 0-10 verbal numeric rating [Score] - Reported", "1", _NRS),
    # SNOMED CT: findings and disorders a history names as the pain or its cause.
    _sct("247398009", "Neuropathic pain"),
    _sct("82423001", "Chronic pain", _V_MEDIUM),
    _sct("2177002", "Postherpetic neuralgia"),
    _sct("128200000", "Complex regional pain syndrome"),
    _sct("24700007", "Multiple sclerosis"),
    _sct("230572002", "Neuropathy due to diabetes mellitus"),
    _sct("193183000", "Acute painful diabetic neuropathy", _V_MEDIUM),
    _sct("230574001", "Acute painful polyneuropathy due to diabetes", _V_MEDIUM),
    _sct("51928006", "General paresis - neurosyphilis", _V_MEDIUM),
    _sct("31681005", "Trigeminal neuralgia", _M_MEDIUM),
    _sct("203082005", "Fibromyalgia", _M_MEDIUM),
    _sct("4740000", "Herpes zoster", _V_MEDIUM),
    # ICD-10-CM: chronic pain (G89).
    _icd("G89.0", "Central pain syndrome"),
    _icd("G89.21", "Chronic pain due to trauma"),
    _icd("G89.22", "Chronic post-thoracotomy pain"),
    _icd("G89.28", "Other chronic postprocedural pain"),
    _icd("G89.29", "Other chronic pain"),
    _icd("G89.3", "Neoplasm related pain (acute) (chronic)"),
    _icd("G89.4", "Chronic pain syndrome"),
    # CRPS type I (G90.5x).
    _icd("G90.50", "Complex regional pain syndrome I, unspecified"),
    _icd("G90.511", "Complex regional pain syndrome I of right upper limb"),
    _icd("G90.512", "Complex regional pain syndrome I of left upper limb"),
    _icd("G90.513", "Complex regional pain syndrome I of upper limb, bilateral"),
    _icd("G90.519", "Complex regional pain syndrome I of unspecified upper limb"),
    _icd("G90.521", "Complex regional pain syndrome I of right lower limb"),
    _icd("G90.522", "Complex regional pain syndrome I of left lower limb"),
    _icd("G90.523", "Complex regional pain syndrome I of lower limb, bilateral"),
    _icd("G90.529", "Complex regional pain syndrome I of unspecified lower limb"),
    _icd("G90.59", "Complex regional pain syndrome I of other specified site"),
    # CRPS type II (causalgia).
    _icd("G56.40", "Causalgia of unspecified upper limb", _M_MEDIUM),
    _icd("G56.41", "Causalgia of right upper limb", _M_MEDIUM),
    _icd("G56.42", "Causalgia of left upper limb", _M_MEDIUM),
    _icd("G56.43", "Causalgia of bilateral upper limbs", _M_MEDIUM),
    _icd("G57.70", "Causalgia of unspecified lower limb", _M_MEDIUM),
    _icd("G57.71", "Causalgia of right lower limb", _M_MEDIUM),
    _icd("G57.72", "Causalgia of left lower limb", _M_MEDIUM),
    _icd("G57.73", "Causalgia of bilateral lower limbs", _M_MEDIUM),
    # Postherpetic.
    _icd("B02.21", "Postherpetic geniculate ganglionitis"),
    _icd("B02.22", "Postherpetic trigeminal neuralgia"),
    _icd("B02.23", "Postherpetic polyneuropathy"),
    _icd("B02.24", "Postherpetic myelitis", _M_MEDIUM),
    _icd("B02.29", "Other postherpetic nervous system involvement"),
    # Diabetic neuropathy.
    _icd("E11.40", "Type 2 diabetes mellitus with diabetic neuropathy, unspecified"),
    _icd("E11.41", "Type 2 diabetes mellitus with diabetic mononeuropathy", _M_HIGH),
    _icd("E11.42", "Type 2 diabetes mellitus with diabetic polyneuropathy"),
    _icd("E11.43", "Type 2 diabetes mellitus with diabetic autonomic neuropathy", _M_HIGH),
    _icd("E11.44", "Type 2 diabetes mellitus with diabetic amyotrophy", _M_HIGH),
    _icd("E11.49", "Type 2 diabetes mellitus with other diabetic neurological complication"),
    _icd("E10.40", "Type 1 diabetes mellitus with diabetic neuropathy, unspecified"),
    _icd("E10.42", "Type 1 diabetes mellitus with diabetic polyneuropathy"),
    # Multiple sclerosis (FY2026 codes; G35 itself is no longer billable).
    _icd("G35.A", "Relapsing-remitting multiple sclerosis"),
    _icd("G35.B0", "Primary progressive multiple sclerosis, unspecified"),
    _icd("G35.B1", "Active primary progressive multiple sclerosis"),
    _icd("G35.B2", "Non-active primary progressive multiple sclerosis"),
    _icd("G35.C0", "Secondary progressive multiple sclerosis, unspecified"),
    _icd("G35.C1", "Active secondary progressive multiple sclerosis"),
    _icd("G35.C2", "Non-active secondary progressive multiple sclerosis"),
    _icd("G35.D", "Multiple sclerosis, unspecified"),
    # Neurosyphilis.
    _icd("A52.10", "Symptomatic neurosyphilis, unspecified"),
    _icd("A52.11", "Tabes dorsalis"),
    _icd("A52.12", "Other cerebrospinal syphilis", _M_MEDIUM),
    _icd("A52.13", "Late syphilitic meningitis", _M_MEDIUM),
    _icd("A52.14", "Late syphilitic encephalitis", _M_MEDIUM),
    _icd("A52.15", "Late syphilitic neuropathy"),
    _icd("A52.16", "Charcot's arthropathy (tabetic)", _M_MEDIUM),
    _icd("A52.17", "General paresis"),
    _icd("A52.19", "Other symptomatic neurosyphilis"),
    _icd("A52.2", "Asymptomatic neurosyphilis", _M_MEDIUM),
    _icd("A52.3", "Neurosyphilis, unspecified"),
    # Other neuropathic pain causes.
    _icd("G50.0", "Trigeminal neuralgia", _M_MEDIUM),
    _icd("G54.6", "Phantom limb syndrome with pain", _M_MEDIUM),
    _icd("M79.7", "Fibromyalgia", _M_MEDIUM),
    _icd("G62.9", "Polyneuropathy, unspecified", _M_MEDIUM),
    _icd("G63", "Polyneuropathy in diseases classified elsewhere", _M_MEDIUM),
    _icd("M54.10", "Radiculopathy, site unspecified", _M_MEDIUM),
    # RxNorm.
    Code(
        RXNORM.key,
        "6130",
        "Ketamine",
        f"{_RX}, ingredient; widely cited (high confidence), but only seen in a public test "
        "fixture: verify in RxNav",
    ),
)

CODES: Mapping[tuple[str, str], Code] = MappingProxyType({(c.system, c.code): c for c in _ALL})
"""Every known code by ``(system key, code)``."""


def lookup(system: str, code: str, *, field: str = "code") -> Code:
    """The code, or ``UnknownCodeError`` naming ``field`` when the system or code is not listed."""
    if not isinstance(system, str) or system not in SYSTEMS:
        raise UnknownCodeError(
            f"{field}: unknown code system {system!r}; known systems: {', '.join(SYSTEMS)}"
        )
    if not isinstance(code, str):
        raise UnknownCodeError(f"{field}: a code must be text, not {type(code).__name__}")
    found = CODES.get((system, code.strip()))
    if found is None:
        raise UnknownCodeError(f"{field}: {code!r} is not a known {SYSTEMS[system].name} code")
    return found


def from_key(key: str, *, field: str = "code") -> Code:
    """The code named by ``system|code`` (``Code.key``)."""
    if not isinstance(key, str) or "|" not in key:
        raise UnknownCodeError(f"{field}: {key!r} is not a code (expected system|code)")
    system, code = key.split("|", 1)
    return lookup(system, code, field=field)


def codes_in(system: str) -> tuple[Code, ...]:
    """Every listed code of one system, in table order."""
    if system not in SYSTEMS:
        raise UnknownCodeError(f"system: unknown code system {system!r}")
    return tuple(c for c in _ALL if c.system == system)


def cause_codes() -> tuple[Code, ...]:
    """The codes a cause of pain may be recorded with (SNOMED CT, then ICD-10-CM)."""
    return tuple(c for system in CAUSE_SYSTEMS for c in codes_in(system))
