"""This adapter's own key-value namespace, with JSON helpers."""

from __future__ import annotations

import json
from typing import Any, List, Optional

from componentize_py_types import Err
from wit_world.imports import storage as wit

from .errors import AdapterError, invalid_input, transient


def _error(e: Err) -> AdapterError:
    v = e.value
    if isinstance(v, wit.StorageError_Unavailable):
        return transient(f"storage: {v.value}", "storage")
    return invalid_input(f"storage: {v.value}")


def _call(f, *args):
    try:
        return f(*args)
    except Err as e:
        raise _error(e) from None


def get(key: str) -> Optional[bytes]:
    """A value, or None."""
    return _call(wit.get, key)


def set(key: str, value: bytes) -> None:  # noqa: A001 - the WIT's name
    """Writes a value that never expires."""
    _call(wit.set, key, value)


def set_expiring(key: str, value: bytes, ttl_ms: int) -> None:
    """Writes a value that expires `ttl_ms` from now."""
    _call(wit.set_expiring, key, value, ttl_ms)


def delete(key: str) -> bool:
    """Deletes a key; True if it existed."""
    return _call(wit.delete, key)


def get_json(key: str) -> Any:
    """A JSON value, or None; a value that is not JSON is a transient failure naming the key."""
    raw = get(key)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError as e:
        raise transient(f"storage key {key!r} holds no JSON: {e}") from None


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def set_json(key: str, value: Any) -> None:
    """Writes `value` as JSON."""
    set(key, _dump(value))


def set_json_expiring(key: str, value: Any, ttl_ms: int) -> None:
    """Writes `value` as JSON, expiring `ttl_ms` from now."""
    set_expiring(key, _dump(value), ttl_ms)


def list_keys(prefix: str, start_after: Optional[str] = None, limit: int = 1000) -> List[str]:
    """One page of keys under `prefix`, in byte order."""
    return _call(wit.list_keys, prefix, start_after, limit)


def list_all(prefix: str) -> List[str]:
    """Every key under `prefix`, paging until the end."""
    keys: List[str] = []
    after: Optional[str] = None
    while True:
        page = list_keys(prefix, after, 1000)
        keys.extend(page)
        if len(page) < 1000:
            return keys
        after = page[-1]


def compare_and_swap(key: str, expected: Optional[bytes], new: Optional[bytes]) -> bool:
    """Sets `key` to `new` (None deletes) only if it holds `expected`; True if it did."""
    return _call(wit.compare_and_swap, key, expected, new)


class Watermark:
    """How far a pull from a platform has read, kept under a storage key. Read it before the
    run and advance it once the run has read everything it asked for: a run that fails on page
    3 leaves it where it was. Marks compare as text (write RFC 3339 in UTC, or zero-padded
    numbers); two runs at once cannot move it backwards."""

    def __init__(self, key: str):
        self.key = key
        raw = get(key)
        self.since: Optional[str] = None if raw is None else raw.decode("utf-8", "replace")

    def advance(self, to: str) -> str:
        """Moves the mark to `to` if that is past where it stands; where it stands now."""
        while True:
            if self.since is not None and self.since >= to:
                return self.since
            expected = None if self.since is None else self.since.encode()
            if compare_and_swap(self.key, expected, to.encode()):
                self.since = to
                return to
            # Another run moved it meanwhile: compare with where it is now.
            self.since = Watermark(self.key).since
