"""The devdata app's public face: the demo log-ins the shell shows on a demo server.

Other apps import this module (and the app's models) only; `tests/test_public_faces.py` checks
it. Names are re-exported from where they are written."""

from __future__ import annotations

from ketaclinic.devdata.demo import demo_logins

__all__ = [
    "demo_logins",
]
