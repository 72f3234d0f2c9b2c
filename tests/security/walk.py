"""The walk the security tests share: every route of the authorization matrix, the personas that
may open it, and the POST forms each page draws, read from the HTML as a browser would submit
them (what the page filled in, the checked boxes and radios, the selected options).

Nothing here is a list of forms or fields written by hand: the forms come from the pages, and
the numeric fields from the Django forms the pages were drawn with (``response.context``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from django import forms
from django.apps import apps
from django.urls import reverse

from ketaclinic.audit.models import Action, AuditEvent
from tests.conftest import PERSONAS, World
from tests.test_authorization_matrix import MATRIX

OK = 200

# Events of signing in and out: not reads or writes of patient data, so never counted here.
AUTH_ACTIONS = frozenset(
    {
        Action.LOGIN,
        Action.LOGIN_REFUSED,
        Action.LOGOUT,
        Action.TIMEOUT,
        Action.LOCKOUT,
        Action.MFA_ENROL,
        Action.MFA_REMOVE,
        Action.MFA_RESET,
        Action.PASSWORD_CHANGE,
        Action.PASSWORD_RESET,
        Action.REAUTH,
        Action.REAUTH_REFUSED,
    }
)
READ_ACTIONS = frozenset({Action.READ, Action.EXPORT})

# Who walks a route's forms: the first persona of this order the matrix lets open the page (the
# clinical writers first, so a page's fullest set of forms is drawn).
WRITER_ORDER = (
    "physician",
    "nurse",
    "front_desk",
    "clinic_admin",
    "alice",
    "bob",
    "other_physician",
    "anonymous",
)


def route_kwargs(world: World, name: str) -> dict[str, Any]:
    """The route's URL arguments, made the way the matrix makes them (it may create records)."""
    kwargs_of: Callable[[World], dict[str, Any]] | None = MATRIX[name][1]
    return kwargs_of(world) if kwargs_of else {}


def personas_allowed(name: str) -> list[str]:
    expected = MATRIX[name][0]
    return [persona for i, persona in enumerate(PERSONAS) if expected[i] == OK]


def writer_for(name: str) -> str | None:
    allowed = set(personas_allowed(name))
    return next((p for p in WRITER_ORDER if p in allowed), None)


def url_for(name: str, kwargs: dict[str, Any]) -> str:
    return reverse(name, kwargs=kwargs or None)


# --- audit events ---------------------------------------------------------------------------


def last_event_id() -> int:
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    return last or 0


def events_since(mark: int) -> list[AuditEvent]:
    """Events of patient data (reads and writes) written after ``mark``, oldest first."""
    return [
        event
        for event in AuditEvent.objects.filter(pk__gt=mark).order_by("pk")
        if event.action not in AUTH_ACTIONS
    ]


def reads(events: list[AuditEvent]) -> list[AuditEvent]:
    return [e for e in events if e.action in READ_ACTIONS]


def writes(events: list[AuditEvent]) -> list[AuditEvent]:
    return [e for e in events if e.action not in READ_ACTIONS]


def describe(events: list[AuditEvent]) -> list[tuple[str, str, str]]:
    return [(e.action, e.object_type, str(e.detail.get("event", ""))) for e in events]


def row_counts() -> dict[str, int]:
    """Rows of every table of the product's apps (audit events excepted: reads add them)."""
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model.__module__.startswith("ketaclinic.") and model is not AuditEvent
    }


# --- forms as a browser submits them --------------------------------------------------------


@dataclass
class PageForm:
    action: str
    method: str = "post"
    # Field name -> the values a browser sends for it (several for checkboxes and multi-selects).
    data: dict[str, list[str]] = field(default_factory=dict)
    # The named submit buttons: each is one way to send the form, (name, value).
    buttons: list[tuple[str, str]] = field(default_factory=list)
    # Field name -> the HTML input type ("number", "hidden", "select", ...).
    types: dict[str, str] = field(default_factory=dict)

    def submissions(self) -> list[dict[str, list[str]]]:
        if not self.buttons:
            return [dict(self.data)]
        return [{**self.data, name: [value]} for name, value in self.buttons]


class _FormsParser(HTMLParser):
    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[PageForm] = []
        self._form: PageForm | None = None
        self._select: tuple[str, bool] | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._textarea: str | None = None
        self._text: list[str] = []
        self._radios: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self._form = PageForm(
                action=urljoin(self.page_url, a.get("action") or ""),
                method=a.get("method", "get").lower(),
            )
            self._radios = {}
            return
        form = self._form
        if form is None:
            return
        name = a.get("name", "")
        if tag == "input" and name and "disabled" not in a:
            kind = a.get("type", "text").lower()
            if kind in ("submit", "image"):
                form.buttons.append((name, a.get("value", "")))
            elif kind == "checkbox":
                form.types[name] = kind
                if "checked" in a:
                    form.data.setdefault(name, []).append(a.get("value", "on"))
            elif kind == "radio":
                form.types[name] = kind
                # The checked one, else the first offered (a person must choose one to send).
                if "checked" in a:
                    form.data[name] = [a.get("value", "on")]
                    self._radios[name] = "checked"
                elif name not in self._radios:
                    form.data[name] = [a.get("value", "on")]
                    self._radios[name] = "first"
            elif kind not in ("button", "reset", "file"):
                form.types[name] = kind
                form.data[name] = [a.get("value", "")]
        elif tag == "button" and name and a.get("type", "submit").lower() == "submit":
            form.buttons.append((name, a.get("value", "")))
        elif tag == "select" and name:
            form.types[name] = "select"
            self._select = (name, "multiple" in a)
            self._select_first = None
            self._select_chosen = False
            form.data.setdefault(name, [])
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            select_name, multiple = self._select
            if self._select_first is None:
                self._select_first = value
            if "selected" in a:
                if multiple:
                    form.data[select_name].append(value)
                else:
                    form.data[select_name] = [value]
                self._select_chosen = True
        elif tag == "textarea" and name:
            form.types[name] = "textarea"
            self._textarea = name
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        form = self._form
        if tag == "form" and form is not None:
            self.forms.append(form)
            self._form = None
        elif tag == "select" and self._select is not None and form is not None:
            name, multiple = self._select
            if not multiple and not self._select_chosen and self._select_first is not None:
                form.data[name] = [self._select_first]
            self._select = None
        elif tag == "textarea" and self._textarea is not None and form is not None:
            form.data[self._textarea] = ["".join(self._text).lstrip("\n")]
            self._textarea = None


def page_forms(response: Any, page_url: str) -> list[PageForm]:
    """The page's forms that stay inside the product: allauth's own forms (sign out, the second
    factor, password and email pages) change the account, not patient data."""
    if not response.get("Content-Type", "").startswith("text/html"):
        return []
    parser = _FormsParser(page_url)
    parser.feed(response.content.decode())
    return [f for f in parser.forms if not urlsplit(f.action).path.startswith("/accounts/")]


def post_forms(response: Any, page_url: str) -> list[PageForm]:
    return [f for f in page_forms(response, page_url) if f.method == "post"]


def flat(data: dict[str, list[str]]) -> dict[str, list[str] | str]:
    """The dict the test client posts: the CSRF token left out (the test client skips it)."""
    return {k: v for k, v in data.items() if k != "csrfmiddlewaretoken"}


# --- the Django forms a page was drawn with ---------------------------------------------------

NUMERIC_FIELDS = (forms.IntegerField, forms.FloatField, forms.DecimalField)


def context_forms(response: Any) -> list[forms.BaseForm]:
    """Every Django form (and each form of a formset) in the page's template context."""
    found: dict[int, forms.BaseForm] = {}
    contexts = getattr(response, "context", None) or []
    for context in contexts:
        for value in _flatten(context):
            if isinstance(value, forms.BaseForm):
                found[id(value)] = value
            elif isinstance(value, forms.BaseFormSet):
                for form in value.forms:
                    found[id(form)] = form
    return list(found.values())


def _flatten(context: Any) -> Iterator[Any]:
    dicts = getattr(context, "dicts", None)
    for layer in dicts if dicts is not None else [context]:
        if isinstance(layer, dict):
            for value in layer.values():
                yield value
                if isinstance(value, list | tuple):
                    yield from value


def numeric_fields(response: Any) -> dict[str, tuple[forms.BaseForm, str]]:
    """HTML name -> (form, field name) of every number field of the page's forms."""
    found: dict[str, tuple[forms.BaseForm, str]] = {}
    for form in context_forms(response):
        for name, form_field in form.fields.items():
            if isinstance(form_field, NUMERIC_FIELDS):
                found[form.add_prefix(name)] = (form, name)
    return found
