"""Each role's home and count show only its own clinic's work: the demo clinic, with something
on every worklist today, is invisible from the homes of another clinic's staff."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from ketaclinic.accounts.models import User
from ketaclinic.devdata.demo import load_demo
from ketaclinic.devdata.today import load_demo_today
from ketaclinic.patients.models import Patient
from ketaclinic.web.worklists import nav_count
from tests import factories
from tests.conftest import World
from tests.factories.sessions import signed_in_client


@pytest.mark.parametrize("role", ["physician", "nurse", "front_desk", "clinic_admin"])
def test_another_clinics_work_never_shows_on_a_home(world: World, role: str) -> None:
    demo = load_demo()
    load_demo_today(clinic=demo)
    theirs = [p.full_name for p in Patient.objects.filter(clinic=demo)]
    assert theirs
    ours: User = factories.make_user(world.other_clinic, role, name="Oscar Elsewhere")
    # The demo's own staff of the same role do see their clinic's work (the check can fail).
    demo_staff = User.objects.filter(clinic=demo, role=role).first()
    assert demo_staff is not None
    assert nav_count(demo_staff) > 0 or role == "nurse"

    page = signed_in_client(ours).get(reverse("home")).content.decode()
    shown = [name for name in theirs if re.search(re.escape(name), page)]
    assert shown == []
    assert nav_count(ours) == 0
