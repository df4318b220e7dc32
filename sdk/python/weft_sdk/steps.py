"""Durable steps: a step that already got a definitive answer in an earlier run of this call is
not sent again; its recorded value is used instead."""

from __future__ import annotations

import json
from typing import Any, Callable

from componentize_py_types import Err, Ok
from wit_world.imports import steps as wit

from .errors import AdapterError, rejected

SAFE = wit.Resend.SAFE
UNSAFE = wit.Resend.UNSAFE
# The code of the rejection a step sent and never answered ends its call with.
OUTCOME_UNKNOWN = "outcome-unknown"


def run(name: str, resend: wit.Resend, work: Callable[[], Any]) -> Any:
    """Runs `work` as step `name` unless the host holds its outcome; its value (JSON) is
    recorded. `UNSAFE` for work that must not be done twice (create, adjust, book)."""
    recorded = wit.begin(name, resend)
    if isinstance(recorded, wit.Recorded_Succeeded):
        return json.loads(recorded.value)
    if isinstance(recorded, wit.Recorded_Failed):
        raise AdapterError.from_wit(recorded.value)
    if isinstance(recorded, wit.Recorded_Unknown):
        raise rejected(OUTCOME_UNKNOWN, recorded.value)
    try:
        value = work()
    except AdapterError as e:
        wit.end(name, Err(e.to_wit()))
        raise
    wit.end(name, Ok(json.dumps(value, separators=(",", ":"), ensure_ascii=False)))
    return value
