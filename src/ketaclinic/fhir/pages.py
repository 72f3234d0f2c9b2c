"""The page links of a search sent by POST (``POST [type]/_search``, R4 3.1.1.4.1).

A client searches by POST so that a name or a birth date leaves no trace in addresses (browser
history, proxies' logs). Its page links must not put them back: they carry the search's terms
encrypted (Fernet: AES with an HMAC, a key drawn from the project's SECRET_KEY), bound to the
reader and the type, for ``PAGES_TTL``. No state is kept on the server, so any web node answers
the next page. A link past its time, another reader's, or altered, is a 410 (search again).
"""

from __future__ import annotations

import base64
import json

from cryptography.fernet import Fernet, InvalidToken
from django.http import QueryDict
from django.utils.crypto import salted_hmac

from ketaclinic.fhir.access import FhirReader
from ketaclinic.fhir.http import FhirError

# The parameter of a POSTed search's page links, and how long a link is followed.
PAGES = "_getpages"
PAGES_TTL = 3600  # seconds: an hour to page through one search
# What a page link may say beside its terms: where the page starts and its size.
LINK_OWN = ("_cursor", "_count")


def _fernet() -> Fernet:
    # A key of its own, drawn from SECRET_KEY (rotating that ends every link, as it should).
    key = salted_hmac("ketaclinic.fhir.pages", "", algorithm="sha256").digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _reader_key(reader: FhirReader) -> str:
    user = reader.user.pk if reader.user is not None else ""
    return f"{reader.clinic_id}:{user}:{reader.client}"


def pages_token(reader: FhirReader, type_name: str, query: QueryDict) -> str:
    """The search's terms (all but where a page starts and its size), sealed for its links."""
    terms = [
        (name, value) for name, given in query.lists() if name not in LINK_OWN for value in given
    ]
    payload = {"reader": _reader_key(reader), "type": type_name, "terms": terms}
    return _fernet().encrypt(json.dumps(payload).encode()).decode()


def pages_query(reader: FhirReader, type_name: str, query: QueryDict) -> QueryDict:
    """The search a page link (``PAGES``) stands for: its sealed terms, with the link's own
    ``_cursor`` and ``_count``."""
    extra = sorted(set(query) - {PAGES, *LINK_OWN, "_format"})
    if extra:
        raise FhirError(
            400,
            f"A page link takes only {', '.join(LINK_OWN)} beside {PAGES}; search again to change"
            f" the search ({extra[0][:40]}).",
            expression=PAGES,
        )
    expired = FhirError(
        410,
        "This page link has expired or is not yours: search again.",
        code="not-found",
        expression=PAGES,
    )
    try:
        payload = json.loads(_fernet().decrypt(query.get(PAGES, "").encode(), ttl=PAGES_TTL))
    except (InvalidToken, ValueError):
        raise expired from None
    if payload.get("reader") != _reader_key(reader) or payload.get("type") != type_name:
        raise expired
    search = QueryDict(mutable=True)
    for name, value in payload.get("terms", []):
        search.appendlist(name, value)
    for name in LINK_OWN:
        if name in query:
            search.setlist(name, query.getlist(name))
    return search
