"""The repository stands on its own: every citation of the design documents names a file and a
section that exist, and nothing a patient or clinician reads names a file.

Citation syntax (developer-facing text: code comments, docstrings, docs, tests):

- ``docs/<file>.md §N.N`` (or ``§N``) for a numbered heading (``## N.`` / ``### N.N``), several
  sections separated by commas: ``docs/clinical-sources.md §1.2, §1.5``;
- ``docs/<file>.md "Heading text"`` with the full heading text as written after the #'s;
- ``docs/<file>.md`` alone cites the whole file.

Text that a page or an email shows cites the publication itself (authors, year, journal), never
``docs/`` or a ``.md`` file. ``docs/architecture.md`` names only paths that exist, and every module
and app.
"""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

import ketaclinic.clinical
from ketaclinic.audit.services import Actor
from ketaclinic.clinical import codes, dosing, grading, instruments, medications, monitoring, pk
from ketaclinic.clinical import outcomes as clinical_outcomes
from ketaclinic.clinical.eligibility import CONDITIONS, RULES, PatientFacts, evaluate
from ketaclinic.clinical.protocols import BOOSTER_SOURCE, PROTOCOL_TEMPLATES
from ketaclinic.clinics.models import Chair
from ketaclinic.clinics.policy_fields import POLICY_GROUPS
from ketaclinic.outcomes.boosters import services as boosters
from ketaclinic.outcomes.diary import services as outcome_services
from ketaclinic.outcomes.models import BoosterSuggestion
from ketaclinic.plans.charts import ESTIMATE_CAPTION
from ketaclinic.scheduling import services as scheduling_services
from ketaclinic.scheduling import tasks as scheduling_tasks
from tests import factories
from tests.conftest import World
from tests.factories.assessments import complete, exam, history
from tests.factories.infusions import arrive, day_at, new_patient
from tests.factories.outcomes import relapse_history
from tests.factories.patients import registered_since
from tests.factories.scheduling import setup_schedule
from tests.scheduling.helpers import some_slots

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "ketaclinic"
DOCS = ROOT / "docs"

TEXT_SUFFIXES = frozenset({".py", ".html", ".txt", ".md", ".toml", ".cfg", ".ini", ".css", ".js"})
SKIPPED_DIRS = frozenset({"__pycache__", ".venv", "node_modules", "var"})

# --- the citation parser -------------------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_SECTION_NUMBER = re.compile(r"^(\d+(?:\.\d+)*)\.?(?:\s|$)")
CITATION = re.compile(
    r"docs/(?P<file>[\w.-]+\.md)"
    r"(?P<refs>(?:(?:,[ \t]*|[ \t]+)(?:§\d+(?:\.\d+)*|\"[^\"\n]+\"))*)"
)
_REF = re.compile(r"§(?P<number>\d+(?:\.\d+)*)|\"(?P<heading>[^\"\n]+)\"")


@dataclass(frozen=True)
class Headings:
    """A markdown file's headings: their full text, and the numbers of the numbered ones."""

    texts: frozenset[str]
    numbers: frozenset[str]


def headings_of(markdown: str) -> Headings:
    """Every ATX heading outside fenced code blocks."""
    texts: set[str] = set()
    numbers: set[str] = set()
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        match = None if fenced else _HEADING.match(line)
        if match is None:
            continue
        text = match.group(2)
        texts.add(text)
        number = _SECTION_NUMBER.match(text)
        if number is not None:
            numbers.add(number.group(1))
    return Headings(frozenset(texts), frozenset(numbers))


def citation_problems(text: str, docs_dir: Path = DOCS) -> list[str]:
    """Each citation in ``text`` of a docs file or section that does not exist, described."""
    problems: list[str] = []
    cache: dict[str, Headings | None] = {}
    for match in CITATION.finditer(text):
        name = match.group("file")
        if name not in cache:
            path = docs_dir / name
            cache[name] = headings_of(path.read_text(encoding="utf-8")) if path.is_file() else None
        headings = cache[name]
        if headings is None:
            problems.append(f"docs/{name}: no such file")
            continue
        for ref in _REF.finditer(match.group("refs")):
            number, heading = ref.group("number"), ref.group("heading")
            if number is not None and number not in headings.numbers:
                problems.append(f"docs/{name} §{number}: no such numbered section")
            if heading is not None and heading not in headings.texts:
                problems.append(f'docs/{name} "{heading}": no such heading')
    return problems


def _text_files(*roots: Path) -> Iterator[Path]:
    for root in roots:
        if root.is_file():
            yield root
            continue
        for path in sorted(root.rglob("*")):
            parts = set(path.relative_to(ROOT).parts)
            if parts & SKIPPED_DIRS or any(p.endswith(".egg-info") for p in parts):
                continue
            if path.is_file() and path.suffix in TEXT_SUFFIXES:
                yield path


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


# --- every citation resolves ---------------------------------------------------------------------


def test_the_three_design_documents_are_in_the_repository() -> None:
    for name in ("design.md", "clinical-policy.md", "clinical-sources.md"):
        assert (DOCS / name).is_file(), name
    numbers = headings_of((DOCS / "clinical-sources.md").read_text(encoding="utf-8")).numbers
    assert {"1", "1.2", "2.2", "7.1", "8.5"} <= numbers


def test_every_docs_citation_names_an_existing_file_and_section() -> None:
    problems: list[str] = []
    cited = 0
    for path in _text_files(ROOT / "src", ROOT / "tests", ROOT / "bench", DOCS, ROOT / "README.md"):
        text = path.read_text(encoding="utf-8")
        for match in CITATION.finditer(text):
            cited += 1
            for problem in citation_problems(match.group(0)):
                where = f"{path.relative_to(ROOT)}:{_line_of(text, match.start())}"
                problems.append(f"{where}: {problem}")
    assert not problems, "\n".join(problems)
    assert cited > 50  # the parser really finds the code's citations


# Built from a prefix, so that the scan of this file does not read them as citations.
D = "docs/"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{D}clinical-sources.md §99.9", [f"{D}clinical-sources.md §99.9"]),
        (f"see {D}clinical-sources.md §1.2, §42", [f"{D}clinical-sources.md §42"]),
        (f'{D}clinical-policy.md "Outcomes"', [f'{D}clinical-policy.md "Outcomes"']),
        (f'{D}design.md "No such heading"', [f'{D}design.md "No such heading"']),
        (f"{D}missing-file.md", [f"{D}missing-file.md"]),
    ],
)
def test_the_parser_reports_a_missing_file_or_section(text: str, expected: list[str]) -> None:
    problems = citation_problems(text)
    assert len(problems) == len(expected), problems
    for problem, citation in zip(problems, expected, strict=True):
        assert problem.startswith(citation), problem


def test_the_parser_accepts_existing_sections_and_whole_files() -> None:
    text = (
        f"{D}clinical-sources.md §1.2, §7.1, §8 and "
        f'{D}clinical-policy.md "Outcomes [6.1]"; '
        f'{D}design.md "Clinical core contract"; '
        f"{D}architecture.md."
    )
    assert citation_problems(text) == []


def test_headings_inside_code_fences_do_not_count(tmp_path: Path) -> None:
    (tmp_path / "x.md").write_text("# Real\n```\n# Fenced\n```\n## 3.1 Numbered\n")
    assert citation_problems(f'{D}x.md "Real" §3.1', tmp_path) == []
    assert citation_problems(f'{D}x.md "Fenced"', tmp_path) == [
        f'{D}x.md "Fenced": no such heading'
    ]


# --- the old locations are gone ------------------------------------------------------------------

OLD_NAMES = re.compile(r"\.\./shared|DESIGN\.md|CLINICAL\.md|STYLE\.md")

# An applied migration keeps the data it wrote; only new code must not write the old name.
ALLOWED_OLD_NAMES = {
    (
        "src/ketaclinic/clinics/migrations/0003_install_defaults_for_existing_clinics.py",
        "CLINICAL.md",
    ),
}


def test_nothing_names_the_old_shared_documents() -> None:
    found: list[str] = []
    for path in _text_files(ROOT / "src", ROOT / "bench", DOCS, ROOT / "README.md"):
        text = path.read_text(encoding="utf-8")
        rel = str(path.relative_to(ROOT))
        for match in OLD_NAMES.finditer(text):
            if (rel, match.group(0)) not in ALLOWED_OLD_NAMES:
                found.append(f"{rel}:{_line_of(text, match.start())}: {match.group(0)}")
    assert not found, "\n".join(found)


# --- what pages and emails show never names a file -----------------------------------------------

MD_FILE = re.compile(r"[\w./-]*\.md\b")
# The evidence tags of docs/clinical-sources.md "How to read this file", e.g. [M, L], [V-2°, M].
CONFIDENCE_TAG = re.compile(
    r"\[(?:V|M|N)(?:-2°|-2nd)?(?:/[VMN])?(?:, *[HML](?:[\u2013-][HML])?)?\]"
)


def test_no_template_names_a_markdown_file() -> None:
    templates = [
        path
        for path in PACKAGE.rglob("*")
        if "templates" in path.relative_to(PACKAGE).parts
        and path.suffix in {".html", ".txt"}
        and path.is_file()
    ]
    assert len(templates) > 50
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in templates
        for match in MD_FILE.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not found, "\n".join(found)


def _facts(**values: Any) -> PatientFacts:
    base: dict[str, Any] = {
        "age_years": 45,
        "pain_duration_months": 12.0,
        "systolic_bp": 120,
        "diastolic_bp": 80,
        "heart_rate": 70,
        "spo2": 98,
        "weight_kg": 70.0,
    }
    base.update(values)
    return PatientFacts(**base)


def eligibility_texts() -> dict[str, str]:
    """Every reason ``evaluate`` can give, from facts that between them fire every rule."""
    every_rule = _facts(
        age_years=17,
        pain_duration_months=1.0,
        systolic_bp=190,
        diastolic_bp=120,
        heart_rate=130,
        spo2=90,
        conditions=frozenset(CONDITIONS),
    )
    elevated = _facts(systolic_bp=165, diastolic_bp=95)  # below the crisis level
    texts: dict[str, str] = {}
    for facts in (every_rule, elevated):
        for reason in evaluate(facts).reasons:
            texts[f"eligibility {reason.code} source"] = reason.source
            texts[f"eligibility {reason.code} message"] = reason.message
    fired = {key.split()[1] for key in texts}
    assert fired == set(CONDITIONS) | set(RULES)
    return texts


def _module_texts() -> dict[str, str]:
    """Module-level source, licence and caption strings of every clinical module."""
    texts: dict[str, str] = {}
    for info in pkgutil.iter_modules(ketaclinic.clinical.__path__):
        module = importlib.import_module(f"ketaclinic.clinical.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, str) and re.search(r"SOURCE|LICENCE|CAPTION", name):
                texts[f"{info.name}.{name}"] = value
    return texts


def clinical_texts() -> dict[str, str]:
    """Every clinical source, licence note and caption a page can show, by where it comes from."""
    texts = _module_texts()
    for code, inst in {**instruments.REGISTRY, **instruments.CHARTING_SCALES}.items():
        texts[f"instrument {code} source"] = inst.source
        texts[f"instrument {code} licence"] = inst.licence
    for code, note in instruments.NOT_BUILT_IN.items():
        texts[f"not built in {code}"] = note
    texts.update(eligibility_texts())
    for name in monitoring.__all__:
        if name.endswith("_SOURCE"):
            texts[f"monitoring {name}"] = getattr(monitoring, name)
    texts["dosing DEVINE_SOURCE"] = dosing.DEVINE_SOURCE
    texts["dosing DOSE_LIMITS_SOURCE"] = dosing.DOSE_LIMITS_SOURCE
    texts["dosing CONCENTRATIONS_SOURCE"] = dosing.CONCENTRATIONS_SOURCE
    for template in PROTOCOL_TEMPLATES:
        texts[f"protocol {template.name}"] = template.source
    texts["protocol booster"] = BOOSTER_SOURCE
    for med in medications.MEDICATIONS.values():
        texts[f"medication {med.code}"] = med.source
    for line in medications.LINES:
        texts[f"line {line.number}"] = line.source
    for component in medications.NON_DRUG_COMPONENTS.values():
        texts[f"component {component.code}"] = component.source
    for index, item in enumerate(medications.NOT_RECOMMENDED):
        texts[f"not recommended {index}"] = item.source
    texts["pk PK_SOURCE"] = pk.PK_SOURCE
    for model in pk.MODELS.values():
        texts[f"pk model {model.name} source"] = model.source
        texts[f"pk model {model.name} caveat"] = model.caveat
    for band in pk.REFERENCE_BANDS:
        texts[f"pk band {band.code}"] = band.source
    for entry in codes.CODES.values():
        texts[f"code {entry.key}"] = entry.source
    texts["grading SOURCE"] = grading.SOURCE
    texts["outcomes SOURCE"] = clinical_outcomes.SOURCE
    texts["plan chart caption"] = ESTIMATE_CAPTION
    for group in POLICY_GROUPS:
        texts[f"policy group {group.key} intro"] = group.intro
        for field in group.fields:
            texts[f"policy field {field.name} help"] = field.help
    return texts


def test_clinical_sources_cite_publications_not_files() -> None:
    texts = clinical_texts()
    assert len(texts) > 150
    bad = {
        where: text
        for where, text in texts.items()
        if ".md" in text or "docs/" in text or CONFIDENCE_TAG.search(text)
    }
    assert not bad, "\n".join(f"{where}: {text}" for where, text in bad.items())


def test_the_confidence_tag_check_can_fail() -> None:
    for tag in ("[M, L]", "[V, H]", "[V-2°, M]", "[V-2nd, M]", "[N/M, L]", "[N]", "[M, L\u2013M]"):
        assert CONFIDENCE_TAG.search(f"a source {tag}."), tag
    assert not CONFIDENCE_TAG.search("mm[Hg] and [Score]")


def test_the_sources_name_their_publications() -> None:
    texts = clinical_texts()
    expectations = {
        "instrument dn4 source": "Bouhassira D et al.",
        "instrument rass source": "Sessler CN",
        "instrument aldrete source": "Aldrete JA",
        "eligibility pregnancy source": "Schwenk ES et al.",
        "eligibility active_psychosis source": "Cohen SP et al.",
        "eligibility minor source": "Hornik CP et al.",
        "eligibility not_chronic source": "Treede RD et al.",
        "monitoring PRECHECK_SOURCE": "Cohen SP et al. 2018",
        "monitoring DISCHARGE_SOURCE": "Aldrete JA, Kroulik D.",
        "pk band analgesia": "Zanos P et al.",
        "outcomes SOURCE": "Dworkin RH et al.",
        "plan chart caption": "Zanos P et al.",
    }
    for where, author in expectations.items():
        assert author in texts[where], (where, texts[where])


# --- rendered emails -----------------------------------------------------------------------------


def _assert_no_md(messages: Iterable[Any]) -> int:
    count = 0
    for message in messages:
        count += 1
        assert not MD_FILE.search(message.subject), message.subject
        assert not MD_FILE.search(str(message.body)), message.body
        for alternative, _mimetype in getattr(message, "alternatives", []):
            assert not MD_FILE.search(str(alternative))
    return count


@pytest.mark.django_db
def test_emails_name_no_markdown_file(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    sched = setup_schedule(world)
    slot = some_slots(sched)[0]
    registered_since(world.alice_patient, 120)
    mail.outbox.clear()

    # Booking: the patient's confirmation (with the invite) and the location's notice.
    with django_capture_on_commit_callbacks(execute=True):
        appointment = scheduling_services.appointment_book(
            actor=Actor(user=world.alice),
            patient=world.alice_patient,
            location=world.cleveland,
            appointment_type=sched.consultation,
            provider_id=slot.provider_id,
            start=slot.start,
            online=True,
        )
    # The 48-hour reminder, then a cancellation.
    start = appointment.start.isoformat()
    assert scheduling_tasks.appointment_reminder.call(appointment.pk, "48h", start) == "sent"
    with django_capture_on_commit_callbacks(execute=True):
        scheduling_services.appointment_cancel(
            actor=Actor(user=world.alice), appointment=appointment
        )

    # The diary link: a reminder schedule that fell due two weeks ago.
    schedule = outcome_services.reminder_schedule_save(
        actor=Actor(user=world.alice),
        patient=world.alice_patient,
        enabled=True,
        time_of_day=dt.time(19, 0),
        daily_nrs=True,
        weekly_peg=True,
        peg_weekday=6,
        now=timezone.now() - dt.timedelta(days=14),
    )
    assert schedule.next_due_at is not None
    sent = outcome_services.diary_reminders_send(now=schedule.next_due_at + dt.timedelta(minutes=3))
    assert sent == 1

    # The booster offer, after a relapse and the physician's approval (of an eligible patient).
    factories.ensure_eligible(world.alice_patient, world.physician)
    relapse_history(world, world.alice_patient)
    assert boosters.booster_suggestions_refresh(clinic=world.clinic) == 1
    with django_capture_on_commit_callbacks(execute=True):
        boosters.booster_suggestion_approve(
            actor=Actor(user=world.physician), suggestion=BoosterSuggestion.objects.get()
        )

    subjects = [m.subject for m in mail.outbox]
    assert _assert_no_md(mail.outbox) >= 6, subjects
    bodies = "\n".join(str(m.body) for m in mail.outbox)
    assert "/d/" in bodies  # the diary link was among them


# --- clinician pages that show sources -----------------------------------------------------------


def _page(client: Any, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    content: bytes = response.content
    return content.decode()


def _assert_page_names_no_file(page: str, path: str) -> None:
    found = MD_FILE.findall(page)
    assert not found, (path, found)
    assert "docs/" not in page, path


@pytest.mark.django_db
def test_the_consultation_decision_page_names_no_file(world: World, client_for: Any) -> None:
    consultation = complete(
        world,
        history_input=history(conditions=sorted(CONDITIONS)),
        exam_input=exam(systolic_bp=165, diastolic_bp=95, heart_rate=120, spo2=92),
    )
    path = reverse("assessments:consultation_detail", kwargs={"public_id": consultation.public_id})
    page = _page(client_for("physician"), path)
    assert 'data-code="pregnancy"' in page  # the reasons, with their sources, are shown
    assert "Cohen SP et al." in page
    _assert_page_names_no_file(page, path)


@pytest.mark.django_db
def test_the_infusion_session_pages_name_no_file(world: World, client_for: Any) -> None:
    # An alert while infusing, a failed pre-check, and the discharge step.
    infusing = day_at(world, "infusing")
    infusing.vitals(systolic_bp=185, diastolic_bp=90)
    deferred = arrive(world, world.bob_patient, chair_name="Chair 2")
    check = deferred.precheck(
        vitals={"systolic_bp": 165, "diastolic_bp": 95, "heart_rate": 80, "spo2": 97}
    )
    assert check.passed is False
    Chair.objects.create(location=world.cleveland, name="Chair 3")
    recovering = day_at(world, "recovering", new_patient(world), chair_name="Chair 3")
    nurse = client_for("nurse")
    pages = []
    for day in (infusing, deferred, recovering):
        path = f"/infusions/sessions/{day.session.public_id}/"
        page = _page(nurse, path)
        _assert_page_names_no_file(page, path)
        pages.append(page)
    assert "Source: " in pages[0]
    assert "Source: " in pages[1]
    assert "Aldrete JA" in pages[2]


@pytest.mark.django_db
def test_the_clinic_settings_pages_name_no_file(world: World, client_for: Any) -> None:
    admin = client_for("clinic_admin")
    for path in (
        "/clinic/settings/safety/",
        "/clinic/settings/safety/edit/",
        "/clinic/settings/safety/history/",
        reverse("clinics:protocols"),
    ):
        page = _page(admin, path)
        _assert_page_names_no_file(page, path)


# --- the architecture map ------------------------------------------------------------------------

ARCHITECTURE = DOCS / "architecture.md"
_ROOT_PREFIXES = ("src/", "tests/", "bench/", "docs/")
_FILE_SUFFIX = re.compile(r"\.(py|html|txt|md|toml|cfg|ini|css|js|yml|yaml)$")


def _backticked_paths(markdown: str) -> list[str]:
    """Backticked tokens that are paths: they contain a slash or end in a file suffix."""
    paths = []
    for token in re.findall(r"`([^`\n]+)`", markdown):
        if " " in token or token.startswith(("-", "@", "[")):
            continue
        if "/" in token or _FILE_SUFFIX.search(token):
            paths.append(token)
    return paths


def _resolves(token: str) -> bool:
    """A root-relative path (src/, tests/, bench/, docs/) or one relative to src/ketaclinic/ (or a
    top-level file such as pyproject.toml); ``<app>`` stands for any app."""
    bases = [ROOT] if token.startswith(_ROOT_PREFIXES) else [PACKAGE, ROOT]
    pattern = token.replace("<app>", "*").rstrip("/")
    return any(any(True for _ in base.glob(pattern)) for base in bases)


def architecture_problems(markdown: str) -> list[str]:
    """Paths the map names that do not exist, and modules or apps it leaves out."""
    problems = [
        f"names a missing path: {p}" for p in _backticked_paths(markdown) if not _resolves(p)
    ]
    named = set(re.findall(r"`([^`\n]+)`", markdown))
    for module in sorted(PACKAGE.rglob("*.py")):
        rel = module.relative_to(PACKAGE)
        if "migrations" in rel.parts or module.name == "__init__.py":
            continue
        if str(rel) not in named and f"src/ketaclinic/{rel}" not in named:
            problems.append(f"leaves out the module {rel}")
    apps = sorted(p.parent.name for p in PACKAGE.glob("*/apps.py"))
    for app in [*apps, "clinical", "lib"]:
        if app not in named:
            problems.append(f"leaves out the app {app}")
    return problems


def test_the_architecture_map_names_existing_paths_and_every_module() -> None:
    problems = architecture_problems(ARCHITECTURE.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_the_architecture_check_can_fail() -> None:
    markdown = ARCHITECTURE.read_text(encoding="utf-8")
    broken = markdown.replace("`clinical/pk.py`", "`clinical/pk_old.py`")
    assert broken != markdown
    problems = architecture_problems(broken)
    assert "names a missing path: clinical/pk_old.py" in problems
    assert "leaves out the module clinical/pk.py" in problems
    assert architecture_problems(markdown.replace("`analytics`", "analytics")) == [
        "leaves out the app analytics"
    ]
