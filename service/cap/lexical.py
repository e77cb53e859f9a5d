"""Lexical checks for the XML Schema simple types that CAP uses.

The schema-level verdict must agree with libxml2's XML Schema validator (the
differential test holds us to that), so each check follows the XSD 1.0 rules
as libxml2 applies them, including its quirks: whitespace is collapsed for
every type except ``xs:string``, ``xs:anyURI`` replaces characters that are
illegal in a URI before parsing it, and time zones beyond +/-14:00 are out.
"""

from __future__ import annotations

import re
from calendar import isleap
from datetime import UTC, datetime, timedelta, timezone

# XML whitespace only: other Unicode spaces are content, not whitespace.
_XML_WHITESPACE_RUN = re.compile(r"[ \t\n\r]+")

# CAP 1.2 schema pattern for every dateTime element. The schema writes the
# sign as ``[-,+]``; a comma can never pass the xs:dateTime base type anyway.
CAP_DATETIME_PATTERN = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[-,+][0-9]{2}:[0-9]{2}"
)

_XS_DATETIME = re.compile(
    r"(?P<year>-?[0-9]{4,})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"T(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?P<fraction>\.[0-9]+)?"
    r"(?P<tz>Z|[-+][0-9]{2}:[0-9]{2})?"
)
_XS_LANGUAGE = re.compile(r"[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*")
_XS_INTEGER = re.compile(r"[-+]?[0-9]+")
_XS_DECIMAL = re.compile(r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")

# RFC 3986 URI-reference, which is what libxml2's xmlParseURI accepts.
_PCT = r"%[0-9A-Fa-f]{2}"
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
_SEGMENT_NZ_NC = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}@]|{_PCT})+"
_HOST = rf"(?:\[[0-9A-Fa-f:.vV]+\]|(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*)"
_AUTHORITY = rf"(?:(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*@)?{_HOST}(?::[0-9]*)?"
_PATH_ABEMPTY = rf"(?:/{_PCHAR}*)*"
_PATH_ABSOLUTE = rf"/(?:{_PCHAR}+(?:/{_PCHAR}*)*)?"
_PATH_ROOTLESS = rf"{_PCHAR}+(?:/{_PCHAR}*)*"
_PATH_NOSCHEME = rf"{_SEGMENT_NZ_NC}(?:/{_PCHAR}*)*"
# libxml2 also lets '[' and ']' into a fragment.
_QUERY_FRAGMENT = rf"(?:\?(?:{_PCHAR}|[/?])*)?(?:\#(?:{_PCHAR}|[/?\[\]])*)?"
_URI_REFERENCE = re.compile(
    rf"(?:[A-Za-z][A-Za-z0-9+\-.]*:(?://{_AUTHORITY}{_PATH_ABEMPTY}|{_PATH_ABSOLUTE}|{_PATH_ROOTLESS})?"
    rf"|(?://{_AUTHORITY}{_PATH_ABEMPTY}|{_PATH_ABSOLUTE}|{_PATH_NOSCHEME})?){_QUERY_FRAGMENT}"
)
# Characters libxml2 replaces with "_" before parsing an anyURI value.
_URI_TOLERATED = re.compile(r"[\x00-\x20\x7f-\U0010ffff<>\"{}|\\^`']")

_MAX_OFFSET_MINUTES = 14 * 60


def collapse_whitespace(text: str) -> str:
    """Apply XSD ``whiteSpace="collapse"`` (XML whitespace characters only)."""
    return _XML_WHITESPACE_RUN.sub(" ", text).strip(" ")


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        # libxml2 applies the Gregorian rule to negative years as written.
        return 29 if isleap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def xs_datetime_problem(value: str, *, leading_whitespace_ok: bool = True) -> str | None:
    """Return why ``value`` is not a valid xs:dateTime, or None if it is.

    libxml2 refuses leading whitespace in a plain xs:dateTime (the CAP 1.1
    schema's type) although it accepts it once a facet is involved (CAP 1.2);
    ``leading_whitespace_ok=False`` gives the plain-type behaviour.
    """
    if not leading_whitespace_ok and value[:1] in (" ", "\t", "\n", "\r"):
        return "must not begin with whitespace"
    match = _XS_DATETIME.fullmatch(collapse_whitespace(value))
    if match is None:
        return "is not a date and time like 2026-11-22T14:00:00-05:00"
    year_text = match["year"].lstrip("-")
    if len(year_text) > 4 and year_text.startswith("0"):
        return "has a year with a leading zero"
    year, month, day = int(match["year"]), int(match["month"]), int(match["day"])
    hour, minute, second = int(match["hour"]), int(match["minute"]), int(match["second"])
    if year == 0:
        return "has year 0000, which does not exist"
    if not 1 <= month <= 12:
        return f"has month {month:02d}, which does not exist"
    if not 1 <= day <= _days_in_month(year, month):
        return f"has day {day:02d}, which month {month:02d} of {year_text} does not have"
    fraction_is_zero = match["fraction"] is None or set(match["fraction"][1:]) == {"0"}
    midnight_24 = hour == 24 and minute == 0 and second == 0 and fraction_is_zero
    if hour > 23 and not midnight_24:
        return f"has hour {hour:02d}, which does not exist"
    if minute > 59 or second > 59:
        return "has minutes or seconds above 59"
    tz = match["tz"]
    if tz is not None and tz != "Z":
        tz_hours, tz_minutes = int(tz[1:3]), int(tz[4:6])
        if tz_minutes > 59 or tz_hours * 60 + tz_minutes > _MAX_OFFSET_MINUTES:
            return f"has time zone offset {tz}, beyond the allowed -14:00..+14:00"
    return None


def cap_datetime_problem(value: str) -> str | None:
    """Return why ``value`` breaks the CAP 1.2 dateTime type, or None.

    CAP 1.2 narrows xs:dateTime to whole seconds with an explicit numeric
    offset: no fractional seconds, no 'Z', no missing zone.
    """
    if CAP_DATETIME_PATTERN.fullmatch(collapse_whitespace(value)) is None:
        return (
            "must look like 2026-11-22T14:00:00-05:00: whole seconds and an explicit "
            "numeric offset (no fraction, no 'Z')"
        )
    return xs_datetime_problem(value)


def parse_datetime(value: str) -> tuple[datetime, bool]:
    """Turn a valid xs:dateTime into an aware datetime.

    Returns the datetime and whether the text carried its own offset; a value
    without one is read as UTC so that a model can still be built (the caller
    reports the missing offset). 24:00:00 becomes midnight of the next day.
    Raises ValueError for text that ``xs_datetime_problem`` rejects.
    """
    match = _XS_DATETIME.fullmatch(collapse_whitespace(value))
    if match is None or xs_datetime_problem(value) is not None:
        raise ValueError(f"not a valid dateTime: {value!r}")
    tz_text = match["tz"]
    zone: timezone = UTC
    if tz_text is not None and tz_text != "Z":
        sign = -1 if tz_text[0] == "-" else 1
        zone = timezone(sign * timedelta(hours=int(tz_text[1:3]), minutes=int(tz_text[4:6])))
    fraction = match["fraction"] or ".0"
    microseconds = int((fraction[1:] + "000000")[:6])
    hour = int(match["hour"])
    moment = datetime(
        int(match["year"]),
        int(match["month"]),
        int(match["day"]),
        0 if hour == 24 else hour,
        int(match["minute"]),
        int(match["second"]),
        microseconds,
        tzinfo=zone,
    )
    if hour == 24:
        moment += timedelta(days=1)
    return moment, tz_text is not None


def xs_language_problem(value: str) -> str | None:
    """Return why ``value`` is not an xs:language tag, or None."""
    if _XS_LANGUAGE.fullmatch(collapse_whitespace(value)) is None:
        return (
            "is not a language tag like en-US (letters and digits in parts of 1-8, joined by '-')"
        )
    return None


def xs_integer_problem(value: str) -> str | None:
    """Return why ``value`` is not an xs:integer, or None."""
    if _XS_INTEGER.fullmatch(collapse_whitespace(value)) is None:
        return "is not a whole number"
    return None


def xs_decimal_problem(value: str) -> str | None:
    """Return why ``value`` is not an xs:decimal, or None."""
    if _XS_DECIMAL.fullmatch(collapse_whitespace(value)) is None:
        return "is not a decimal number like 12.5"
    return None


def xs_any_uri_problem(value: str) -> str | None:
    """Return why ``value`` is not an xs:anyURI as libxml2 judges it, or None.

    libxml2 is lenient: spaces, non-ASCII and a few other characters are
    tolerated (replaced before parsing), but the rest must be an RFC 3986
    URI reference: well-formed %-escapes, at most one '#', and so on.
    """
    tolerated = _URI_TOLERATED.sub("_", collapse_whitespace(value))
    if _URI_REFERENCE.fullmatch(tolerated) is None:
        return "is not a valid URI"
    return None
