"""The smaller host capabilities: config and secrets, logging, jobs, partial success, digests."""

from __future__ import annotations

import json
from typing import Any, List, Optional, Tuple

from componentize_py_types import Err
from wit_world.imports import config as wit_config
from wit_world.imports import digest as wit_digest
from wit_world.imports import items as wit_items
from wit_world.imports import jobs as wit_jobs
from wit_world.imports import log as wit_log

from .errors import invalid_input, transient


def config() -> dict:
    """The whole `[config]` table, defaults filled in by the host."""
    try:
        return json.loads(wit_config.all())
    except ValueError as e:
        raise invalid_input(f"manifest [config]: {e}") from None


def secret(name: str) -> str:
    """A `[secrets]` value; its absence is a manifest error naming it. Never log it."""
    value = wit_config.secret(name)
    if value is None:
        raise invalid_input(f"manifest [secrets] has no secret named {name!r}")
    return value


def log(level: str, message: str, **fields: Any) -> None:
    """One record in the host's log ("trace", "debug", "info", "warn", "error"); the host
    redacts secrets and tokens."""
    wit_log.write(wit_log.Level[level.upper()], message, [(k, str(v)) for k, v in fields.items()])


def report(accepted: int, rejected_items: List[Tuple[Optional[int], str, str]]) -> None:
    """Partial success: `accepted` items taken, and (index, code, message) for each refused."""
    wit_items.report(accepted, [wit_items.RejectedItem(i, c, m) for i, c, m in rejected_items])


def enqueue(op: str, input: Any, delay_ms: int = 0, key: Optional[str] = None, urgent: bool = False) -> str:
    """A durable job of this adapter running `op` with `input` after `delay_ms`; its id."""
    priority = wit_jobs.Priority.URGENT if urgent else wit_jobs.Priority.NORMAL
    try:
        return wit_jobs.enqueue_with_priority(op, json.dumps(input), delay_ms, key, priority)
    except Err as e:
        v = e.value
        if isinstance(v, wit_jobs.JobError_Unavailable):
            raise transient(v.value, "jobs") from None
        if isinstance(v, wit_jobs.JobError_Limit):
            raise transient(v.value, "job-limit") from None
        raise invalid_input(f"job: {v.value}") from None


def sha256(data: bytes) -> bytes:
    """SHA-256, computed natively by the host."""
    return bytes(wit_digest.sha256(data))
