"""What the front desk types into the patient search, read as what it means: a date of birth, a
phone number in any format, an email, or words of a name or a record number.

Pure parsing (no database): the selector (``patients/selectors.py``) turns the result into one
filtered query. A date-looking word that is not a date is a refusal naming the field, never a
silent search for the text.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

# The formats the desk may type a date of birth in, as the search box's hint says.
DATE_FORMATS_HINT = "YYYY-MM-DD or MM/DD/YYYY"
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_US = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
# Three groups of digits with - / or . between: what a person means as a date (a phone number's
# groups are longer: 216-555-0101).
_DATE_LIKE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
# Digits and the separators people write phone numbers with.
_PHONE_LIKE = re.compile(r"[0-9()+\-./]*[0-9][0-9()+\-./]*")
# Fewer digits than a local number are not a phone number (a year, a house number).
PHONE_MIN_DIGITS = 7
# The characters the stored phone's digits-only column drops (``Patient.phone_digits``).
PHONE_SEPARATORS = (" ", "-", "(", ")", ".", "+", "/")


@dataclass(frozen=True)
class PatientQuery:
    """A parsed search: every part given must match (AND)."""

    words: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    # Digits-only forms the phone may be stored as (with and without the country code 1).
    phones: tuple[str, ...] = ()
    date_of_birth: dt.date | None = None

    def __bool__(self) -> bool:
        return bool(self.words or self.emails or self.phones or self.date_of_birth)

    @property
    def kinds(self) -> list[str]:
        """What the search was by, without the values (for the audit trail)."""
        parts = [
            ("name_or_record", self.words),
            ("email", self.emails),
            ("phone", self.phones),
            ("date_of_birth", self.date_of_birth),
        ]
        return [name for name, value in parts if value]


def phone_digit_forms(text: str) -> tuple[str, ...]:
    """The digits of a phone number as the database may hold them: a North American number with
    and without its country code 1, so "+1 216 555 0101" and "(216) 555-0101" find each other."""
    digits = "".join(c for c in text if c.isdigit())
    if len(digits) == 10:
        return (digits, f"1{digits}")
    if len(digits) == 11 and digits.startswith("1"):
        return (digits, digits[1:])
    return (digits,)


def parse_date_of_birth(text: str) -> dt.date:
    """A date typed as YYYY-MM-DD or MM/DD/YYYY; ValidationError naming the field otherwise."""
    iso, us = _ISO.fullmatch(text), _US.fullmatch(text)
    try:
        if iso:
            return dt.date(int(iso[1]), int(iso[2]), int(iso[3]))
        if us:
            return dt.date(int(us[3]), int(us[1]), int(us[2]))
    except ValueError:
        pass
    raise ValidationError(
        f"Date of birth: “{text}” is not a date. Type it as {DATE_FORMATS_HINT}.",
        code="date_of_birth",
    )


def parse_patient_query(text: str) -> PatientQuery:
    """Read the search box: a date-looking word is the date of birth, the phone-looking words
    together a phone number (so "(216) 555 0101" is one number), a word with "@" an email, every
    other word part of a name or a record number."""
    tokens = text.split()
    dates = {parse_date_of_birth(t) for t in tokens if _DATE_LIKE.fullmatch(t)}
    if len(dates) > 1:
        raise ValidationError("Date of birth: type one date, not two.", code="date_of_birth")
    rest = [t for t in tokens if not _DATE_LIKE.fullmatch(t)]
    phone_tokens = [t for t in rest if _PHONE_LIKE.fullmatch(t)]
    phone = "".join(phone_tokens)
    phones: tuple[str, ...] = ()
    if sum(c.isdigit() for c in phone) >= PHONE_MIN_DIGITS:
        phones = phone_digit_forms(phone)
        rest = [t for t in rest if t not in phone_tokens]
    return PatientQuery(
        words=tuple(t for t in rest if "@" not in t),
        emails=tuple(t for t in rest if "@" in t),
        phones=phones,
        date_of_birth=dates.pop() if dates else None,
    )
