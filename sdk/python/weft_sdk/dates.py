"""Days and times as platforms write them, in a configured UTC offset."""

from __future__ import annotations

import datetime as dt
import re
import time

from .errors import invalid_input

_OFFSET = re.compile(r"^([+-])(\d\d):(\d\d)$")


def parse_offset(text: str) -> dt.timezone:
    """"+08:00" as a time zone; anything else is a manifest error naming it."""
    m = _OFFSET.match(text)
    if not m or int(m.group(2)) > 23 or int(m.group(3)) > 59:
        raise invalid_input(f'expected an offset such as "+08:00", found {text!r}')
    minutes = int(m.group(2)) * 60 + int(m.group(3))
    return dt.timezone(dt.timedelta(minutes=-minutes if m.group(1) == "-" else minutes))


def day(offset: dt.timezone, days: int = 0) -> str:
    """The date `days` from today in `offset`, as YYYY-MM-DD."""
    return (dt.datetime.now(offset).date() + dt.timedelta(days=days)).isoformat()


def now_ms() -> int:
    """Milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000


def check_date(text: str) -> None:
    """Raises invalid input unless `text` is a date such as 2026-11-23."""
    try:
        if len(text) != 10:
            raise ValueError("not YYYY-MM-DD")
        dt.date.fromisoformat(text)
    except ValueError as e:
        raise invalid_input(f'expected a date such as "2026-11-23", found {text!r} ({e})') from None
