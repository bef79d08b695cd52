"""Points in time for restores: parsing what a learner types, printing it back.

A restore target is an *inclusive bound on oplog timestamps*: restoring to T
keeps every operation whose timestamp is <= T. What the learner types decides
how exact that bound is:

- an oplog timestamp ``SECONDS:INC`` or a mark (``mark:NAME``, recorded with
  Main's exact cluster time): exact to the operation;
- a wall-clock time: oplog timestamps only carry whole seconds, so every
  operation in that second is included (``14:05:30`` and ``14:05:30.9`` both
  mean "up to the end of second 14:05:30").

Wall-clock times without an offset are the machine's local time; the report
prints the UTC equivalent, because the conversion is what learners get wrong
on Atlas.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from bson import Timestamp

from labkit.errors import BackupError

MAX_INC = 0xFFFFFFFF
UTC = dt.timezone.utc

_TS_RE = re.compile(r"^\s*(\d+):(\d{1,10})\s*$")
_TYPED_TS_RE = re.compile(r"^\s*\d{9,11}:\d+\s*$")  # as typed: not to be confused with HH:MM
_LOCAL_RE = re.compile(r"^\s*(?:(\d{4}-\d{2}-\d{2})[ T])?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?\s*$")
FORMATS_HELP = (
    "an ISO-8601 time with offset (2026-03-01T14:05:30Z, 2026-03-01T15:05:30+01:00), a local time "
    "(2026-03-01 15:05[:30] or 15:05[:30] today), a mark (mark:NAME) or an oplog timestamp (SECONDS:INC)"
)


def ts_key(ts: Timestamp) -> int:
    """One integer that orders like the timestamp (for storage and fast comparisons)."""
    return (ts.time << 32) | ts.inc


def ts_from_key(key: int) -> Timestamp:
    return Timestamp(key >> 32, key & MAX_INC)


def ts_str(ts: Timestamp | None) -> str | None:
    return None if ts is None else f"{ts.time}:{ts.inc}"


def ts_parse(text: str) -> Timestamp:
    match = _TS_RE.match(str(text))
    if not match or int(match.group(2)) > MAX_INC:
        raise BackupError(f"{text!r} is not an oplog timestamp: write it as SECONDS:INC, e.g. 1767225600:3.")
    return Timestamp(int(match.group(1)), int(match.group(2)))


def as_utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def show_time(moment: dt.datetime | Timestamp | None, precise: bool = False) -> str:
    """``2026-03-01 14:05:30 UTC (15:05:30 local, +0100)``: always both, UTC first."""
    if moment is None:
        return "-"
    if isinstance(moment, Timestamp):
        moment = moment.as_datetime()
    moment = as_utc(moment)
    local = moment.astimezone()
    spec = "%H:%M:%S.%f" if precise else "%H:%M:%S"
    utc_text = moment.strftime(f"%Y-%m-%d {spec}")
    local_text = local.strftime(spec if local.date() == moment.date() else f"%Y-%m-%d {spec}")
    if precise:
        utc_text, local_text = utc_text[:-3], local_text[:-3]
    return f"{utc_text} UTC ({local_text} local, {local.strftime('%z')})"


@dataclass(frozen=True)
class RestorePoint:
    """The resolved T: ``bound`` is the inclusive oplog-timestamp bound."""

    text: str  # what was asked
    kind: str  # "time", "mark" or "timestamp"
    bound: Timestamp
    moment: dt.datetime  # the wall-clock time T stands for, UTC

    @property
    def exact(self) -> bool:
        return self.kind != "time"

    def describe(self) -> str:
        if self.kind == "time":
            return f"{show_time(self.moment)}: every operation up to the end of that second"
        what = f"mark {self.text[5:]!r}" if self.kind == "mark" else "oplog timestamp"
        return f"{what} = {ts_str(self.bound)} ({show_time(self.moment, precise=self.kind == 'mark')})"

    def as_dict(self) -> dict:
        return {"asked": self.text, "kind": self.kind, "bound": ts_str(self.bound),
                "utc": self.moment.isoformat().replace("+00:00", "Z"),
                "local": self.moment.astimezone().isoformat(), "exact": self.exact}


def parse_time(text: str, marks: dict | None = None, now: dt.datetime | None = None) -> RestorePoint:
    """Resolve what the learner typed into a ``RestorePoint``; BackupError if it is none of the formats."""
    if not isinstance(text, str) or not text.strip():
        raise BackupError(f"Give the time to restore to: {FORMATS_HELP}.")
    raw = text.strip()
    if raw.startswith("mark:"):
        return _mark_point(raw, marks or {})
    if _TYPED_TS_RE.match(raw):
        ts = ts_parse(raw)
        return RestorePoint(raw, "timestamp", ts, dt.datetime.fromtimestamp(ts.time, UTC))
    moment = _wall_time(raw, now)
    seconds = int(moment.timestamp() // 1)
    return RestorePoint(raw, "time", Timestamp(seconds, MAX_INC), moment)


def _mark_point(raw: str, marks: dict) -> RestorePoint:
    name = raw[5:].strip()
    mark = marks.get(name)
    if not mark:
        known = ", ".join(sorted(marks)) or "none yet (record one with labkit mark NAME)"
        raise BackupError(f"There is no mark named {name!r}. Known marks: {known}.")
    ts = ts_parse(mark["ts"])
    return RestorePoint(f"mark:{name}", "mark", ts, as_utc(dt.datetime.fromisoformat(mark["wall"].replace("Z", "+00:00"))))


def _wall_time(raw: str, now: dt.datetime | None) -> dt.datetime:
    local = _LOCAL_RE.match(raw)
    if local:  # no offset: the machine's local time (naive datetimes convert through the OS's zone rules)
        day, hour, minute, second, fraction = local.groups()
        try:
            date = dt.date.fromisoformat(day) if day else (now or dt.datetime.now()).astimezone().date()
            naive = dt.datetime(date.year, date.month, date.day, int(hour), int(minute), int(second or 0),
                                int((fraction or "0").ljust(6, "0")))
        except ValueError as exc:
            raise BackupError(f"{raw!r} is not a valid time ({exc}). Use {FORMATS_HELP}.") from None
        return naive.astimezone(UTC)
    try:
        parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BackupError(f"Cannot read the time {raw!r}. Use {FORMATS_HELP}.") from None
    return parsed.astimezone(UTC)  # without an offset, astimezone reads it as local time
