"""The ketamine protocol templates a new clinic starts with.

Defaults from docs/clinical-policy.md "Protocol templates [2.1, 1.3]"; the evidence for each is in
docs/clinical-sources.md §2.1 and §1.3 (noted beside its ``source``, which cites the publication).

Plain data with their sources: a clinic edits its own copies (``clinics.ProtocolTemplate``);
these are only the starting point. Dose limits are not here: they are the clinic's
``DoseLimits`` and every plan made from a template is still checked against them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["BOOSTER_SOURCE", "PROTOCOL_TEMPLATES", "ProtocolTemplateDefaults"]

Pattern = Literal["weekdays", "daily", "three_per_week"]


@dataclass(frozen=True)
class ProtocolTemplateDefaults:
    name: str
    dose_mg_per_kg: float | None
    fixed_dose_mg: float | None
    duration_min: int
    rate_cap_mg_per_h: float | None
    sessions_count: int
    pattern: Pattern
    source: str


PROTOCOL_TEMPLATES: Final[tuple[ProtocolTemplateDefaults, ...]] = (
    ProtocolTemplateDefaults(
        name="0.5 mg/kg over 40 min, 5 consecutive days",
        dose_mg_per_kg=0.5,
        fixed_dose_mg=None,
        duration_min=40,
        rate_cap_mg_per_h=None,
        sessions_count=5,
        pattern="weekdays",
        # docs/clinical-sources.md §2.1
        source=(
            "Cleveland Clinic cohort, Tankha et al., Reg Anesth Pain Med 2025 (PMID 41047247), "
            "n=1034: 0.5 mg/kg over 40 min on 5 consecutive days; 86.1% completed, no serious "
            "adverse events."
        ),
    ),
    ProtocolTemplateDefaults(
        name="0.35 mg/kg/h for 4 h, capped at 25 mg/h, 10 days",
        # 0.35 mg/kg/h x 4 h = 1.4 mg/kg per session; the cap applies to the hourly rate.
        dose_mg_per_kg=1.4,
        fixed_dose_mg=None,
        duration_min=240,
        rate_cap_mg_per_h=25.0,
        sessions_count=10,
        pattern="weekdays",
        # docs/clinical-sources.md §2.1
        source=(
            "Schwartzman et al., Pain 2009;147:107 (NCT00579085), CRPS: at most 0.35 mg/kg/h, "
            "not exceeding 25 mg/h, 4 h a day for 10 days, outpatient."
        ),
    ),
    ProtocolTemplateDefaults(
        name="Single trial: 80 mg over 2 h 30 min, then reassess",
        dose_mg_per_kg=None,
        fixed_dose_mg=80.0,
        # "More than 2 h": 150 minutes keeps the rate at 32 mg/h.
        duration_min=150,
        rate_cap_mg_per_h=None,
        sessions_count=1,
        pattern="weekdays",
        # docs/clinical-sources.md §1.3
        source=(
            "ASRA/AAPM/ASA consensus guideline on IV ketamine for chronic pain, Cohen SP et al. "
            "Reg Anesth Pain Med 2018;43(5):521-546: start with a single outpatient infusion of "
            "at least about 80 mg over more than 2 h, then reassess (Grade C; as quoted in a "
            "secondary summary, CASA Bulletin of Anesthesiology 2021; medium confidence)."
        ),
    ),
)

# docs/clinical-policy.md "Protocol templates [2.1, 1.3]"; docs/clinical-sources.md §2.1
BOOSTER_SOURCE: Final = (
    "Booster: one session when a relapse is flagged and the physician approves (ketaclinic "
    "clinic policy); no evidence-based fixed booster interval was found in the published "
    "regimens (e.g. Schwartzman et al., Pain 2009; Tankha et al., Reg Anesth Pain Med 2025)."
)
