"""The plans app's public face: a plan's protocol, the predicted concentration chart, and the
signal a signed revision sends (gate 3), which scheduling receives.

Other apps import this module (and the app's models) only; `tests/test_public_faces.py` checks
it. Names are re-exported from where they are written."""

from __future__ import annotations

from ketaclinic.plans.charts import Segment, chart_caption, concentration_chart_svg
from ketaclinic.plans.selectors import plans_to_sign, protocol_of, signed_plan_of
from ketaclinic.plans.services import plan_create
from ketaclinic.plans.signals import plan_superseded

__all__ = [
    "Segment",
    "chart_caption",
    "concentration_chart_svg",
    "plan_create",
    "plan_superseded",
    "plans_to_sign",
    "protocol_of",
    "signed_plan_of",
]
