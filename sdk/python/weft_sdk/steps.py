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


class Sequence:
    """One request's share of a batch: its 1-based number, the count, and the caller's rows."""

    def __init__(self, seq_id: int, seq_count: int, rows: range):
        self.seq_id, self.seq_count, self.rows = seq_id, seq_count, rows


def in_batches(name: str, total: int, size: int, resend: wit.Resend, send: Callable[[Sequence], Any]) -> list:
    """Sends `total` rows in sequences of at most `size` with `send`, each as the durable step
    `{name}/{seq_id}`: when the call runs again (after a 429, a refused token, a crash), the
    sequences the platform already took are not sent again and their recorded answers stand in.
    Answers every sequence's answer, in order."""
    size = max(size, 1)
    count = -(-total // size)
    answers = []
    for i in range(count):
        seq = Sequence(i + 1, count, range(i * size, min(total, (i + 1) * size)))
        answers.append(run(f"{name}/{seq.seq_id}", resend, lambda: send(seq)))
    return answers
