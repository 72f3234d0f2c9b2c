"""FHIR search parameters (R4 3.1.1.4 / search.html): parsing and applying them to querysets.

Supported: ``_id``, ``_lastUpdated``, ``_count``, each type's own parameters (string, token,
date and reference kinds), repeated parameters as AND and comma-separated values as OR, and the
date prefixes ``eq ne lt le gt ge``; the modifiers ``:exact`` (strings) and ``:[type]``
(references), any other modifier of a known parameter refused with a 400 (``_modified``). A
value the server cannot read is a 400 naming the parameter. An unknown parameter is ignored
and named in the result (``handling=lenient``, the default), or refused with a 400 when the
request says ``Prefer: handling=strict``.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone

from ketaclinic.fhir.http import FhirError

DEFAULT_COUNT = 20
MAX_COUNT = 100
# Parameters every search reads itself, and ones a client may send that change nothing here.
PAGING = ("_count", "_cursor", "_include")
HARMLESS = ("_format",)

Filter = Callable[[QuerySet[Any], list[str]], QuerySet[Any]]
# A computed type's parameter narrows what the type starts from (``ResourceType.computed``).
Narrow = Callable[[Any, list[str]], Any]
# The id of a resource (R4 2.1.0.3 id: 1 to 64 of these characters).
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")

T = TypeVar("T")


@dataclass(frozen=True)
class Param:
    """One search parameter of a type: its FHIR kind (for the CapabilityStatement), how one
    occurrence (its comma-separated values, OR) narrows the queryset (a ``Filter``; for a
    computed type, what the type starts from: a ``Narrow``), and what it means."""

    kind: str  # string | token | date | reference | uri
    apply: Narrow  # a ``Filter``, for a type read from a table
    doc: str
    # A reference's target types: a value of another type (``Location/[id]`` for a patient)
    # matches nothing, and ``:[type]`` is one of these (``_typed``, ``_modified``).
    targets: tuple[str, ...] = ()


@dataclass
class Search(Generic[T]):
    """A parsed search: the narrowed queryset (or a computed type's narrowed start), the page
    size, where the page starts (after a public id; a computed type's resource id), and the
    unknown parameters that were ignored."""

    queryset: T
    count: int
    after: uuid.UUID | str | None
    ignored: list[str] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)  # for the paging links
    includes: list[str] = field(default_factory=list)  # ``_include`` values, known ones


def values(raw: str) -> list[str]:
    """A parameter's comma-separated values (``\\,`` is a literal comma)."""
    parts = re.split(r"(?<!\\),", raw)
    return [part.replace("\\,", ",") for part in parts]


def parse(
    query: QueryDict,
    queryset: T,
    params: Mapping[str, Param],
    *,
    strict: bool,
    includes: Collection[str] = (),
    computed: bool = False,
) -> Search[T]:
    """Apply every parameter of ``query`` to ``queryset``; ``includes`` are the ``_include``
    values the type offers; ``computed``: a computed type's (its page links name its own ids)."""
    for name, given in query.lists():
        if "\x00" in name or any("\x00" in value for value in given):
            # No text stored here holds one, and PostgreSQL refuses it in a query.
            shown = name.replace("\x00", "")[:40]
            raise FhirError(400, f"{shown}: a NUL character is no value.", expression=shown)
    count = _count(query.get("_count"))
    after = _resource_cursor(query.get("_cursor")) if computed else _cursor(query.get("_cursor"))
    ignored: list[str] = []
    kept: list[tuple[str, str]] = []
    included: list[str] = []
    for raw in query.getlist("_include"):
        for wanted in values(raw):
            if wanted in includes:
                if wanted not in included:
                    included.append(wanted)
                    kept.append(("_include", wanted))
            elif strict:
                raise FhirError(
                    400,
                    f"_include={wanted[:80]} is not offered here"
                    f" (offered: {', '.join(includes) or 'none'}).",
                    code="not-supported",
                    expression="_include",
                )
            else:
                ignored.append(f"_include={wanted[:80]}")
    for name in query:
        if name in PAGING or name in HARMLESS:
            continue
        base, _, modifier = name.partition(":")
        param = params.get(base)
        if param is None:
            if strict:
                raise FhirError(
                    400,
                    f"Unknown search parameter: {base}. Without Prefer: handling=strict, "
                    "unknown parameters are ignored.",
                    code="not-supported",
                    expression=base,
                )
            ignored.append(base)
            continue
        apply = _modified(param, name, modifier) if modifier else param.apply
        for raw in query.getlist(name):
            if raw == "":
                continue  # an empty parameter is no constraint (R4 3.1.1.4)
            given = values(raw)
            if param.kind == "reference":
                given = _typed(param, modifier, given)
            queryset = apply(queryset, given)
            kept.append((name, raw))
    return Search(
        queryset=queryset,
        count=count,
        after=after,
        ignored=ignored,
        kept=kept,
        includes=included,
    )


def _count(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_COUNT
    try:
        count = int(raw)
    except ValueError:
        raise FhirError(400, "_count must be a whole number.", expression="_count") from None
    if count < 0:
        raise FhirError(400, "_count must not be negative.", expression="_count")
    return min(count, MAX_COUNT)


def not_a_page_link() -> FhirError:
    """The refusal of a ``_cursor`` this server's page links never hold."""
    return FhirError(400, "_cursor is not a page link of this server.", expression="_cursor")


def _cursor(raw: str | None) -> uuid.UUID | None:
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise not_a_page_link() from None


def _resource_cursor(raw: str | None) -> str | None:
    if not raw:
        return None
    if FHIR_ID.fullmatch(raw) is None:
        raise not_a_page_link()
    return raw


# --- kinds of parameter -----------------------------------------------------------------------


def ids(field_name: str) -> Filter:
    """A token that is a public id (``_id``, or a reference's id part)."""

    def apply(qs: QuerySet[Any], given: list[str]) -> QuerySet[Any]:
        keys = []
        for value in given:
            key = value.rsplit("/", 1)[-1]
            try:
                keys.append(uuid.UUID(key))
            except ValueError:
                continue  # no such id: matches nothing (a 200 with no entries, not a 400)
        narrowed = qs.filter(**{f"{field_name}__in": keys})
        # Through a many-to-many (a role's locations) a row could match twice.
        return narrowed.distinct() if "__" in field_name else narrowed

    return apply


# The targets of a reference to the record's patient (``Param.targets``).
PATIENT = ("Patient",)


def subject_params(path: str = "patient__public_id") -> dict[str, Param]:
    """``patient`` and ``subject``: the two names R4 gives the search by the record's patient
    (``path`` is her public id, through the row's relations)."""
    return {
        "patient": Param("reference", ids(path), "Patient/[id].", PATIENT),
        "subject": Param("reference", ids(path), "Patient/[id] (the subject).", PATIENT),
    }


@dataclass(frozen=True)
class Strings:
    """A string parameter's filter: the start of the value, case-insensitive (R4 string
    search), in any of the fields; ``exact`` (the ``:exact`` modifier) the whole value, case
    and accents as given."""

    field_names: tuple[str, ...]
    exact: bool = False

    def __call__(self, qs: QuerySet[Any], given: list[str]) -> QuerySet[Any]:
        lookup = "exact" if self.exact else "istartswith"
        match = Q()
        for value in given:
            for name in self.field_names:
                match |= Q(**{f"{name}__{lookup}": value})
        return qs.filter(match)


def strings(*field_names: str) -> Strings:
    """A string parameter over these fields (``Strings``)."""
    return Strings(field_names)


def _typed(param: Param, modifier: str, given: list[str]) -> list[str]:
    """A reference's values, each with its type where one is said (``Type/[id]``, a full URL
    ending so, or the ``:[type]`` modifier before a bare id); a value of a type the parameter
    does not point to becomes "", which no filter matches. A parameter without ``targets``
    takes its values as they are."""
    if not param.targets:
        return given
    typed = []
    for value in given:
        if modifier and "/" not in value:
            value = f"{modifier}/{value}"
        parts = value.rstrip("/").rsplit("/", 2)
        kind = parts[-2] if len(parts) > 1 else ""
        typed.append(value if kind in ("", *param.targets) else "")
    return typed


def _modified(param: Param, name: str, modifier: str) -> Narrow:
    """The filter of ``name`` (a parameter with a ``:modifier``). Supported: ``:exact`` on a
    string, and a reference's ``:[type]``, one of its targets (``_typed``). Any other
    is refused: R4 3.1.1.5 has a server reject a modifier it does not support, as dropping it
    would widen the search."""
    if modifier == "exact" and isinstance(param.apply, Strings):
        return replace(param.apply, exact=True)
    if param.kind == "reference" and modifier in param.targets:
        return param.apply
    raise FhirError(
        400,
        f"The modifier :{modifier[:40]} of {name.split(':', 1)[0]} is not supported here.",
        code="not-supported",
        expression=name[:80],
    )


def tokens(
    field_name: str, codes: Mapping[str, Any] | None = None, system: str | Mapping[str, str] = ""
) -> Filter:
    """A token parameter: ``code`` or ``system|code``; ``codes`` maps FHIR codes to stored
    values (a code it does not know matches nothing); ``system`` is the codes' system, or each
    code's (a mapping), which a ``system|code`` must name (no system: any is taken)."""

    def apply(qs: QuerySet[Any], given: list[str]) -> QuerySet[Any]:
        wanted: list[Any] = []
        for value in given:
            if "|" in value:
                their_system, code = value.split("|", 1)
                ours = system.get(code, "") if isinstance(system, Mapping) else system
                if their_system and ours and their_system != ours:
                    continue
            else:
                code = value
            if codes is None:
                wanted.append(code)
            elif code in codes:
                wanted.append(codes[code])
        return qs.filter(**{f"{field_name}__in": wanted})

    return apply


def listed(matches: Callable[[Any, str], bool]) -> Narrow:
    """A computed type's parameter over a list of rows: the rows any of the values matches."""

    def apply(rows: list[Any], given: list[str]) -> list[Any]:
        return [row for row in rows if any(matches(row, value) for value in given)]

    return apply


def token_code(value: str, system: str = "") -> str | None:
    """The code of a token value (``code`` or ``system|code``); None when it names another
    system than ``system``."""
    if "|" not in value:
        return value
    their_system, code = value.split("|", 1)
    return None if their_system and system and their_system != system else code


PREFIXES = ("eq", "ne", "lt", "le", "gt", "ge")
_DATE = re.compile(
    r"^(?P<prefix>[a-z]{2})?(?P<year>\d{4})(-(?P<month>\d{2})(-(?P<day>\d{2})"
    r"(T(?P<time>\d{2}:\d{2}(:\d{2}(\.\d+)?)?)(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


#: Where the range of the calendar's last year (month, day, second) ends: ``date_range``'s end
#: when the next one would be past year 9999.
END_OF_TIME = dt.datetime.max.replace(tzinfo=dt.UTC)


def date_range(name: str, raw: str) -> tuple[str, dt.datetime, dt.datetime]:
    """The prefix and the range ``[start, end)`` a date value stands for, by its precision
    (a year, a month, a day, or a moment). Dates without a zone are in the server's zone."""
    found = _DATE.match(raw)
    if found is None:
        raise FhirError(
            400,
            f"{name}: a date is written YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz,"
            f" after an optional prefix ({', '.join(PREFIXES)}).",
            expression=name,
        )
    prefix = found["prefix"] or "eq"
    if prefix not in PREFIXES:
        raise FhirError(
            400,
            f"{name}: the prefix {prefix} is not supported here (use {', '.join(PREFIXES)}).",
            code="not-supported",
            expression=name,
        )
    try:
        year = int(found["year"])
        month = int(found["month"] or 1)
        day = int(found["day"] or 1)
        zone: dt.tzinfo = timezone.get_current_timezone()
        if found["zone"]:
            zone = dt.UTC if found["zone"] == "Z" else _offset(found["zone"])
        if found["time"]:
            moment = dt.datetime.fromisoformat(f"{year:04d}-{month:02d}-{day:02d}T{found['time']}")
            start = moment.replace(tzinfo=zone)
        else:
            start = dt.datetime(year, month, day, tzinfo=zone)
        start.astimezone(dt.UTC)  # the database compares in UTC: past year 9999 is no date
    except (ValueError, OverflowError):
        raise FhirError(400, f"{name}: {raw} is not a date.", expression=name) from None
    try:
        if found["time"]:
            end = start + dt.timedelta(seconds=1)
        elif found["day"]:
            end = start + dt.timedelta(days=1)
        elif found["month"]:
            end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=zone)
        else:
            end = dt.datetime(year + 1, 1, 1, tzinfo=zone)
        end.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        # The last stretch of the calendar (9999, its December, its last day): it ends where
        # timestamps end, so ``lt9999`` is every moment before that year, not a refusal.
        end = END_OF_TIME
    return prefix, start, end


def _offset(text: str) -> dt.timezone:
    sign = -1 if text[0] == "-" else 1
    hours, minutes = int(text[1:3]), int(text[4:6])
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))


def dates(field_name: str, *, param: str, day_field: bool = False) -> Filter:
    """A date parameter on a timestamp (or, ``day_field``, a calendar date) column: each value
    a range by its precision, compared as R4's prefixes define (3.1.1.4.5.2)."""

    def bound(moment: dt.datetime) -> dt.datetime | dt.date:
        return moment.date() if day_field else moment

    def apply(qs: QuerySet[Any], given: list[str]) -> QuerySet[Any]:
        match = Q()
        for raw in given:
            prefix, start, end = date_range(param, raw)
            low = bound(start)
            if end == END_OF_TIME:
                # The calendar's last stretch: every value from its start on, nothing after.
                inside = Q(**{f"{field_name}__gte": low})
                upto, after = Q(**{f"{field_name}__isnull": False}), Q(pk__in=[])
            else:
                high = bound(end)
                if day_field and high == low:
                    high = low + dt.timedelta(days=1)  # a moment within a day: that day
                inside = Q(**{f"{field_name}__gte": low, f"{field_name}__lt": high})
                upto = Q(**{f"{field_name}__lt": high})
                after = Q(**{f"{field_name}__gte": high})
            match |= {
                "eq": inside,
                "ne": ~inside,
                "lt": Q(**{f"{field_name}__lt": low}),
                "le": upto,
                "gt": after,
                "ge": Q(**{f"{field_name}__gte": low}),
            }[prefix]
        return qs.filter(match)

    return apply
