"""--columnsHaveTypes and --parseGrace: typed CSV/TSV columns, as mongoimport 100.x reads them.

A typed column is ``name.type(arg)`` (mongoimport/typed_fields.go): ``auto()``, ``binary(hex|base32|base64)``,
``boolean()``, ``date(layout)`` / ``date_go(layout)`` (a Go time layout such as ``2006-01-02 15:04:05``),
``date_ms(layout)`` (SQL Server FORMAT style, ``yyyy-MM-dd HH:mm:ss``), ``date_oracle(layout)`` (TO_DATE style,
``YYYY-MM-DD HH24:MI:SS``), ``decimal()``, ``double()``, ``int32()``, ``int64()``, ``string()``. In the
argument, ``\\(``, ``\\)`` and ``\\\\`` stand for ``(``, ``)`` and ``\\``; any other backslash is dropped.

A value that does not parse as its column's type is handled by the parse grace: ``autoCast`` stores it as
mongoimport's automatic detection would (int32, int64, double or string), ``skipField`` leaves the field out,
``skipRow`` leaves the row out (it is written, as CSV or as the TSV line, to stdout, and a "skipping row" line
goes to the log), ``stop`` (the default) stops the import with mongoimport's "type coercion failure" message.

Dates follow Go's ``time.Parse`` with the machine's local zone taken as UTC (as on a server whose zone is UTC):
a numeric offset (``-0700``, ``Z07:00``...) shifts the instant, a zone abbreviation (``MST``) is read but, as Go
does for an abbreviation it does not know locally, does not shift it. A layout without a year gives year 0 (as
Go), which the embedded server cannot store (README).
"""
from __future__ import annotations

import base64
import binascii
import re
from decimal import Decimal, InvalidOperation

from bson import Decimal128, Int64
from bson.datetime_ms import DatetimeMS

from labkit.errors import TransferError

PARSE_GRACES = ("autoCast", "skipField", "skipRow", "stop")

# mongoimport's columnType numbers: its "type N does not support arguments" message prints them
_TYPE_NUMBERS = {"auto": 0, "binary": 1, "boolean": 2, "date": 3, "date_go": 4, "date_ms": 5, "date_oracle": 6,
                 "double": 7, "int32": 8, "int64": 9, "decimal": 10, "string": 11}
_TAKES_ARGUMENT = {"binary", "date", "date_go", "date_ms", "date_oracle"}
_COLUMN = re.compile(r"^(.*)\.(\w+)\((.*)\)$", re.DOTALL | re.ASCII)
_INT = re.compile(r"[+-]?[0-9]+")
_DEC_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SPECIAL_FLOAT = re.compile(r"[+-]?(?:inf|infinity)|nan", re.IGNORECASE)  # Go takes no sign before nan
_HEX_FLOAT = re.compile(r"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+")
INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


class CoercionFailed(ValueError):
    """A value that is not of its column's type."""


def quote(text: str) -> str:
    """Go's %#q: back-quoted when it can be, else double-quoted."""
    if "`" not in text and all(ch.isprintable() or ch == "\t" for ch in text):
        return f"`{text}`"
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def _replacer(pairs: list[tuple[str, str]]):
    """Go's strings.NewReplacer: left to right, at each position the first old string (in argument order) wins."""
    olds = [old for old, _ in pairs]
    table = dict(pairs)

    def replace(text: str) -> str:
        out, pos = [], 0
        while pos < len(text):
            for old in olds:
                if text.startswith(old, pos):
                    out.append(table[old])
                    pos += len(old)
                    break
            else:
                out.append(text[pos])
                pos += 1
        return "".join(out)

    return replace


_unescape = _replacer([("\\\\", "\\"), ("\\(", "("), ("\\)", ")"), ("\\", "")])
# mongoimport/dateconv: SQL Server FORMAT and Oracle TO_DATE layouts into Go layouts
_from_ms = _replacer([
    ("dddd", "Monday"), ("ddd", "Mon"), ("dd", "02"), ("d", "2"), ("MMMM", "January"), ("MMM", "Jan"),
    ("MM", "01"), ("M", "1"), ("hh", "03"), ("h", "3"), ("HH", "15"), ("H", "15"), ("mm", "04"), ("m", "4"),
    ("ss", "05"), ("s", "5"), ("tt", "PM"), ("yyyy", "2006"), ("yyy", "2006"), ("yy", "06"), ("zzz", "-07:00"),
    ("zz", "-07"),
])
_from_oracle_upper = _replacer([
    ("AM", "PM"), ("DAY", "Monday"), ("DY", "Mon"), ("DD", "02"), ("HH12", "03"), ("HH24", "15"), ("HH", "03"),
    ("MI", "04"), ("MONTH", "January"), ("MON", "Jan"), ("MM", "01"), ("SS", "05"), ("TZD", "MST"),
    ("TZH:TZM", "-07:00"), ("TZH", "-07"), ("YYYY", "2006"), ("YY", "06"),
])


def go_layout_from_ms(layout: str) -> str:
    return _from_ms(layout)


def go_layout_from_oracle(layout: str) -> str:
    return _from_oracle_upper(layout.upper())


# --- value parsers (mongoimport/typed_fields.go) --------------------------------------------------


def parse_go_float(text: str) -> float:
    """strconv.ParseFloat(text, 64): decimal, hex (0x1p-2), inf/infinity/nan; out of range is an error."""
    if _SPECIAL_FLOAT.fullmatch(text):
        return float(text)
    if _DEC_FLOAT.fullmatch(text):
        value = float(text)
    elif _HEX_FLOAT.fullmatch(text):
        value = float.fromhex(text)
    else:
        raise CoercionFailed(text)
    if value in (float("inf"), float("-inf")):
        raise CoercionFailed(text)  # ErrRange
    return value


def auto_parse(text: str):
    """mongoimport's autoParse: int32, then int64, then double, else the string itself."""
    if _INT.fullmatch(text):
        number = int(text)
        if INT32_MIN <= number <= INT32_MAX:
            return number
        if INT64_MIN <= number <= INT64_MAX:
            return Int64(number)
    try:
        return parse_go_float(text)
    except CoercionFailed:
        return text


def _int32(text: str):
    if _INT.fullmatch(text):
        number = int(text)
        if INT32_MIN <= number <= INT32_MAX:
            return number
    raise CoercionFailed(text)


def _int64(text: str):
    if _INT.fullmatch(text):
        number = int(text)
        if INT64_MIN <= number <= INT64_MAX:
            return Int64(number)
    raise CoercionFailed(text)


def _boolean(text: str):
    lowered = text.lower()
    if lowered == "true" or text == "1":
        return True
    if lowered == "false" or text == "0":
        return False
    raise CoercionFailed(text)


_DECIMAL_TEXT = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)",
                           re.IGNORECASE)


def _decimal(text: str):
    if not _DECIMAL_TEXT.fullmatch(text):
        raise CoercionFailed(text)
    try:
        return Decimal128(Decimal(text))
    except (InvalidOperation, ValueError, ArithmeticError):
        raise CoercionFailed(text) from None


def _binary_parser(encoding: str):
    if encoding == "hex":
        def parse(text: str) -> bytes:
            try:
                return binascii.unhexlify(text)
            except (binascii.Error, ValueError):
                raise CoercionFailed(text) from None
    elif encoding == "base32":
        def parse(text: str) -> bytes:
            try:
                return base64.b32decode(text.replace("\r", "").replace("\n", ""))  # Go skips line breaks
            except (binascii.Error, ValueError):
                raise CoercionFailed(text) from None
    else:
        def parse(text: str) -> bytes:
            try:
                return base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
            except (binascii.Error, ValueError):
                raise CoercionFailed(text) from None
    return parse


# --- Go's time.Parse --------------------------------------------------------------------------------

_LONG_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                "October", "November", "December"]
_SHORT_MONTHS = [m[:3] for m in _LONG_MONTHS]
_LONG_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_SHORT_DAYS = [d[:3] for d in _LONG_DAYS]
# layout elements, longest first where one is the prefix of another
_ELEMENTS = [
    ("January", "long_month"), ("Jan", "month"), ("Monday", "long_weekday"), ("Mon", "weekday"), ("MST", "tz"),
    ("002", "zero_yday"), ("01", "zero_month"), ("02", "zero_day"), ("03", "zero_hour12"), ("04", "zero_minute"),
    ("05", "zero_second"), ("06", "year"), ("15", "hour"), ("1", "num_month"), ("2006", "long_year"),
    ("2", "day"), ("__2", "under_yday"), ("_2", "under_day"), ("3", "hour12"), ("4", "minute"), ("5", "second"),
    ("PM", "PM"), ("pm", "pm"),
    ("-070000", "tz_hhmmss"), ("-07:00:00", "tz_hh:mm:ss"), ("-0700", "tz_hhmm"), ("-07:00", "tz_hh:mm"),
    ("-07", "tz_hh"),
    ("Z070000", "iso_hhmmss"), ("Z07:00:00", "iso_hh:mm:ss"), ("Z0700", "iso_hhmm"), ("Z07:00", "iso_hh:mm"),
    ("Z07", "iso_hh"),
]


def _layout_chunks(layout: str) -> list[tuple[str, str, int]]:
    """The layout as (literal text before, element kind, fraction digits) chunks; the last has kind ''."""
    chunks, literal, i = [], [], 0
    while i < len(layout):
        if layout.startswith("_2006", i):
            literal.append("_")  # Go: "_" then the long year
            chunks.append(("".join(literal), "long_year", 0))
            literal, i = [], i + 5
            continue
        char = layout[i]
        if char in ".," and i + 1 < len(layout) and layout[i + 1] in "09":
            digit, j = layout[i + 1], i + 1
            while j < len(layout) and layout[j] == digit:
                j += 1
            if not (j < len(layout) and layout[j].isdigit()):
                chunks.append(("".join(literal), "frac0" if digit == "0" else "frac9", j - (i + 1)))
                literal, i = [], j
                continue
        for text, kind in _ELEMENTS:
            if layout.startswith(text, i):
                chunks.append(("".join(literal), kind, 0))
                literal, i = [], i + len(text)
                break
        else:
            literal.append(char)
            i += 1
    chunks.append(("".join(literal), "", 0))
    return chunks


class _Bad(Exception):
    pass


def _skip(value: str, prefix: str) -> str:
    """Go's skip: the layout's literal text must be there; a run of spaces matches a run of spaces."""
    while prefix:
        if prefix[0] == " ":
            if value and value[0] != " ":
                raise _Bad
            prefix = prefix.lstrip(" ")
            value = value.lstrip(" ")
            continue
        if not value or value[0] != prefix[0]:
            raise _Bad
        prefix, value = prefix[1:], value[1:]
    return value


def _digit(text: str, index: int) -> bool:
    return index < len(text) and "0" <= text[index] <= "9"


def _getnum(value: str, fixed: bool) -> tuple[int, str]:
    if not _digit(value, 0):
        raise _Bad
    if not _digit(value, 1):
        if fixed:
            raise _Bad
        return int(value[0]), value[1:]
    return int(value[:2]), value[2:]


def _getnum3(value: str, fixed: bool) -> tuple[int, str]:
    i = 0
    while i < 3 and _digit(value, i):
        i += 1
    if i == 0 or (fixed and i != 3):
        raise _Bad
    return int(value[:i]), value[i:]


def _lookup(table: list[str], value: str) -> tuple[int, str]:
    for index, name in enumerate(table):
        if len(value) >= len(name) and value[:len(name)].lower() == name.lower():
            return index, value[len(name):]
    raise _Bad


def _nanoseconds(value: str, nbytes: int) -> int:
    if value[0] not in ".,":
        raise _Bad
    if nbytes > 10:
        value, nbytes = value[:10], 10
    digits = value[1:nbytes]
    if not digits.isdigit():
        raise _Bad
    return int(digits) * 10 ** (10 - nbytes)


def _signed_offset(value: str) -> int:
    if not value or value[0] not in "+-":
        return 0
    j = 1
    while j < len(value) and value[j].isdigit():
        j += 1
    if j == 1 or int(value[1:j]) > 23:
        return 0
    return j


def _zone_length(value: str) -> int:
    """Go's parseTimeZone: the length of a zone abbreviation at the start of value, 0 if none."""
    if len(value) < 3:
        return 0
    if value[:4] in ("ChST", "MeST"):
        return 4
    if value[:3] == "GMT":
        return 3 + _signed_offset(value[3:]) if len(value) > 3 else 3
    if value[0] in "+-":
        return _signed_offset(value)
    upper = 0
    while upper < 6 and upper < len(value) and "A" <= value[upper] <= "Z":
        upper += 1
    if upper == 3:
        return 3
    if upper == 4 and (value[3] == "T" or value[:4] == "WITA"):
        return 4
    if upper == 5 and value[4] == "T":
        return 5
    return 0


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in(month: int, year: int) -> int:
    if month == 2:
        return 29 if _is_leap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar (any year, year 0 too)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_go_time(layout_chunks: list[tuple[str, str, int]], value: str) -> DatetimeMS:
    """Go's time.Parse(layout, value) as a BSON date (milliseconds, rounded down as the Go driver does)."""
    year, month, day, yday = 0, -1, -1, -1
    hour = minute = sec = nsec = 0
    offset = None
    am = pm = False
    for index, (literal, kind, digits) in enumerate(layout_chunks):
        value = _skip(value, literal)
        if not kind:
            break
        if kind == "year":
            if len(value) < 2 or not value[:2].isdigit():
                raise _Bad
            year = int(value[:2])
            year += 1900 if year >= 69 else 2000
            value = value[2:]
        elif kind == "long_year":
            if len(value) < 4 or not value[:4].isdigit():
                raise _Bad
            year, value = int(value[:4]), value[4:]
        elif kind in ("month", "long_month"):
            month, value = _lookup(_SHORT_MONTHS if kind == "month" else _LONG_MONTHS, value)
            month += 1
        elif kind in ("num_month", "zero_month"):
            month, value = _getnum(value, kind == "zero_month")
            if not 1 <= month <= 12:
                raise _Bad
        elif kind in ("weekday", "long_weekday"):
            _, value = _lookup(_SHORT_DAYS if kind == "weekday" else _LONG_DAYS, value)
        elif kind in ("day", "under_day", "zero_day"):
            if kind == "under_day" and value[:1] == " ":
                value = value[1:]
            day, value = _getnum(value, kind == "zero_day")
        elif kind in ("under_yday", "zero_yday"):
            for _ in range(2):
                if kind == "under_yday" and value[:1] == " ":
                    value = value[1:]
            yday, value = _getnum3(value, kind == "zero_yday")
        elif kind == "hour":
            hour, value = _getnum(value, False)
            if hour >= 24:
                raise _Bad
        elif kind in ("hour12", "zero_hour12"):
            hour, value = _getnum(value, kind == "zero_hour12")
            if hour > 12:
                raise _Bad
        elif kind in ("minute", "zero_minute"):
            minute, value = _getnum(value, kind == "zero_minute")
            if minute >= 60:
                raise _Bad
        elif kind in ("second", "zero_second"):
            sec, value = _getnum(value, kind == "zero_second")
            if sec >= 60:
                raise _Bad
            # fractional seconds right after the seconds, unless the layout itself has them next
            if len(value) >= 2 and value[0] in ".," and _digit(value, 1):
                following = layout_chunks[index + 1][1] if index + 1 < len(layout_chunks) else ""
                if following not in ("frac0", "frac9"):
                    n = 2
                    while _digit(value, n):
                        n += 1
                    nsec, value = _nanoseconds(value, n), value[n:]
        elif kind in ("PM", "pm"):
            if len(value) < 2:
                raise _Bad
            word, value = value[:2], value[2:]
            if word == ("PM" if kind == "PM" else "pm"):
                pm = True
            elif word == ("AM" if kind == "PM" else "am"):
                am = True
            else:
                raise _Bad
        elif kind.startswith(("iso_", "tz_")):
            if kind.startswith("iso_") and value[:1] == "Z":
                value, offset = value[1:], 0
                continue
            shape = kind.split("_", 1)[1]
            width = len(shape)
            if len(value) < width + 1:
                raise _Bad
            sign, body = value[0], value[1:width + 1]
            if any(s == ":" and b != ":" for s, b in zip(shape, body)):
                raise _Bad
            numbers = body.replace(":", "")
            if not numbers.isdigit():
                raise _Bad
            hh, mm, ss = int(numbers[:2]), int(numbers[2:4] or 0), int(numbers[4:6] or 0)
            if hh > 24 or mm > 60 or ss > 60 or sign not in "+-":
                raise _Bad
            offset = (hh * 60 + mm) * 60 + ss
            offset = -offset if sign == "-" else offset
            value = value[width + 1:]
        elif kind == "tz":
            if value[:3] == "UTC":
                value, offset = value[3:], 0
                continue
            length = _zone_length(value)
            if not length:
                raise _Bad
            value = value[length:]  # an abbreviation Go does not know locally: no shift (see the module's note)
        elif kind == "frac0":
            width = 1 + digits
            if len(value) < width:
                raise _Bad
            nsec, value = _nanoseconds(value, width), value[width:]
        elif kind == "frac9":
            if len(value) < 2 or value[0] not in ".," or not _digit(value, 1):
                continue
            i = 0
            while _digit(value, i + 1):
                i += 1
            nsec, value = _nanoseconds(value, 1 + i), value[1 + i:]
    if value:
        raise _Bad  # extra text
    if pm and hour < 12:
        hour += 12
    elif am and hour == 12:
        hour = 0
    if yday >= 0:
        if yday < 1 or yday > (366 if _is_leap(year) else 365):
            raise _Bad
        m, d = 1, yday
        while d > _days_in(m, year):
            d -= _days_in(m, year)
            m += 1
        if (month >= 0 and month != m) or (day >= 0 and day != d):
            raise _Bad
        month, day = m, d
    else:
        month = 1 if month < 0 else month
        day = 1 if day < 0 else day
    if day < 1 or day > _days_in(month, year):
        raise _Bad
    seconds = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + sec - (offset or 0)
    return DatetimeMS(seconds * 1000 + nsec // 1_000_000)


def _date_parser(go_layout: str):
    chunks = _layout_chunks(go_layout)

    def parse(text: str) -> DatetimeMS:
        try:
            return parse_go_time(chunks, text)
        except (_Bad, ValueError, IndexError):
            raise CoercionFailed(text) from None

    return parse


# --- column specs -------------------------------------------------------------------------------------


class ColumnSpec:
    """One typed column: its field name (dotted for nested fields), type name and value parser."""

    __slots__ = ("name", "type_name", "parse", "parts")

    def __init__(self, name: str, type_name: str, parse):
        self.name = name
        self.type_name = type_name
        self.parse = parse
        self.parts = name.split(".")


def _string(text: str) -> str:
    return text


def parse_typed_header(header: str) -> ColumnSpec:
    """One ``name.type(arg)`` entry; TransferError with mongoimport's reason when it is not one."""
    match = _COLUMN.match(header)
    if not match:
        raise TransferError(f"could not parse type from header {quote(header)}: typed fields (--columnsHaveTypes) "
                            "are written name.type(argument), e.g. zipcode.string() or thumbnail.binary(base64)")
    name, type_name, raw_arg = match.groups()
    if type_name not in _TYPE_NUMBERS:
        raise TransferError(f"invalid type {quote(type_name)} in header {quote(header)}: the types are auto, binary, "
                            "boolean, date, date_go, date_ms, date_oracle, decimal, double, int32, int64, string")
    arg = _unescape(raw_arg)
    if type_name not in _TAKES_ARGUMENT and arg != "":
        raise TransferError(f"type {_TYPE_NUMBERS[type_name]} does not support arguments ({type_name}() takes "
                            f"none, in header {quote(header)})")
    if type_name == "binary":
        if arg not in ("base64", "base32", "hex"):
            raise TransferError(f"invalid binary encoding: {quote(arg)} (in header {quote(header)}: "
                                "use binary(hex), binary(base32) or binary(base64))")
        parse = _binary_parser(arg)
    elif type_name in ("date", "date_go"):
        parse = _date_parser(arg)
    elif type_name == "date_ms":
        parse = _date_parser(go_layout_from_ms(arg))
    elif type_name == "date_oracle":
        parse = _date_parser(go_layout_from_oracle(arg))
    else:
        parse = {"auto": auto_parse, "boolean": _boolean, "decimal": _decimal, "double": parse_go_float,
                 "int32": _int32, "int64": _int64, "string": _string}[type_name]
    return ColumnSpec(name, type_name, parse)


def parse_typed_headers(headers: list[str]) -> list[ColumnSpec]:
    return [parse_typed_header(header) for header in headers]


def validate_parse_grace(grace: str) -> str:
    if grace not in PARSE_GRACES:
        raise TransferError(f"invalid parse grace: {grace} (choose autoCast, skipField, skipRow or stop)")
    return grace
