"""Fixed vocabularies of the consultation form (not clinical rules, which live in
``ketaclinic.clinical``): body regions, pain descriptors and sensory signs, and the LOINC code and
UCUM unit of each exam measurement."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ketaclinic.clinical.codes import Code, lookup

BODY_REGIONS: Mapping[str, str] = MappingProxyType(
    {
        "head_face": "Head or face",
        "neck": "Neck",
        "upper_limb_right": "Right arm or hand",
        "upper_limb_left": "Left arm or hand",
        "chest": "Chest",
        "abdomen": "Abdomen",
        "upper_back": "Upper back",
        "lower_back": "Lower back",
        "pelvis": "Pelvis or groin",
        "lower_limb_right": "Right leg or foot",
        "lower_limb_left": "Left leg or foot",
        "widespread": "Widespread",
    }
)

# The words patients use for neuropathic pain, plus the nociceptive ones that help tell the two
# apart (docs/clinical-policy.md "What patients are told (education pages, in the project's own
# words)").
PAIN_DESCRIPTORS: Mapping[str, str] = MappingProxyType(
    {
        "burning": "Burning",
        "shooting": "Shooting",
        "stabbing": "Stabbing",
        "electric": "Electric",
        "tingling": "Tingling",
        "numbness": "Numbness",
        "painful_cold": "Painful cold",
        "itching": "Itching",
        "aching": "Aching",
        "throbbing": "Throbbing",
        "cramping": "Cramping",
    }
)

SENSORY_SIGNS: Mapping[str, str] = MappingProxyType(
    {
        "touch_hypoesthesia": "Reduced touch sensation",
        "pinprick_hypoesthesia": "Reduced pinprick sensation",
        "vibration_loss": "Reduced vibration sense",
        "thermal_hypoesthesia": "Reduced warm or cold sensation",
        "brush_allodynia": "Brush-evoked pain (allodynia)",
        "cold_allodynia": "Cold-evoked pain (allodynia)",
        "pinprick_hyperalgesia": "Pinprick hyperalgesia",
        "reduced_reflexes": "Reduced tendon reflexes",
        "skin_changes": "Skin colour, temperature or sweating changes",
    }
)

# Exam field -> its LOINC code (with the UCUM unit). SpO2 carries both pulse-oximetry codings
# (US Core), so it appears twice when observations are written.
EXAM_OBSERVATIONS: Mapping[str, tuple[Code, ...]] = MappingProxyType(
    {
        "systolic_bp": (lookup("loinc", "8480-6"),),
        "diastolic_bp": (lookup("loinc", "8462-4"),),
        "heart_rate": (lookup("loinc", "8867-4"),),
        "respiratory_rate": (lookup("loinc", "9279-1"),),
        "spo2": (lookup("loinc", "59408-5"), lookup("loinc", "2708-6")),
        "temperature_c": (lookup("loinc", "8310-5"),),
        "weight_kg": (lookup("loinc", "29463-7"),),
        "height_cm": (lookup("loinc", "8302-2"),),
        "bmi": (lookup("loinc", "39156-5"),),
        "pain_nrs": (lookup("loinc", "72514-3"),),
    }
)
