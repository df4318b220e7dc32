"""Weft's SDK for adapters written in Python.

The types come from `wit/adapter.wit` (componentize-py generates `wit_world` from it when the
adapter is built); this package is the thin layer the Rust SDK also gives: errors the host acts
on, HTTP with the usual status meanings, the token helper, storage with JSON, durable steps,
partial success, and the describe builder with its `[config]` schema.

An adapter is a module `adapter.py` defining `class Adapter(weft_sdk.Adapter)`.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Sequence, Tuple

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import adapter as wit
from wit_world.imports import types as wit_types

from . import dates, http, paging, steps, storage, tokens, xml
from .errors import AdapterError, auth, detail, invalid_input, invalid_rows, rejected, transient
from .small import config, enqueue, log, report, secret, sha256

__all__ = [
    "Adapter", "AdapterError", "Key", "TokenGrant", "auth", "config", "dates", "describe", "paging",
    "detail", "enqueue", "http", "invalid_input", "invalid_rows", "log", "rejected", "report",
    "secret", "sha256", "steps", "storage", "tokens", "transient", "xml", "fields",
]

TokenGrant = wit.TokenGrant
CallContext = wit_types.CallContext


class Key:
    """One `[config]` key, declared once: type, default, bounds or choices, and what it does.
    The host checks the manifest against it at load and fills in the default."""

    def __init__(self, name: str, kind: wit.ConfigType, description: str):
        self._key = wit.ConfigKey(name, kind, False, description, None, None, None, [])

    @classmethod
    def text(cls, name: str, description: str) -> "Key":
        """A string."""
        return cls(name, wit.ConfigType.TEXT, description)

    @classmethod
    def integer(cls, name: str, description: str) -> "Key":
        """An integer."""
        return cls(name, wit.ConfigType.INTEGER, description)

    @classmethod
    def number(cls, name: str, description: str) -> "Key":
        """Any number."""
        return cls(name, wit.ConfigType.NUMBER, description)

    @classmethod
    def boolean(cls, name: str, description: str) -> "Key":
        """true or false."""
        return cls(name, wit.ConfigType.BOOLEAN, description)

    @classmethod
    def list(cls, name: str, description: str) -> "Key":
        """A list."""
        return cls(name, wit.ConfigType.ARRAY, description)

    @classmethod
    def table(cls, name: str, description: str) -> "Key":
        """A table."""
        return cls(name, wit.ConfigType.TABLE, description)

    @classmethod
    def any(cls, name: str, description: str) -> "Key":
        """Anything."""
        return cls(name, wit.ConfigType.ANY, description)

    def at_least(self, minimum: float) -> "Key":
        """The least a number may be."""
        self._key.minimum = float(minimum)
        return self

    def at_most(self, maximum: float) -> "Key":
        """The greatest a number may be."""
        self._key.maximum = float(maximum)
        return self

    def required(self) -> "Key":
        """The manifest must give it."""
        self._key.required = True
        return self

    def default(self, value: Any) -> "Key":
        """The value taken when the manifest gives none."""
        self._key.default = json.dumps(value)
        return self

    def range(self, minimum: float, maximum: float) -> "Key":
        """The least and greatest a number may be."""
        self._key.minimum, self._key.maximum = float(minimum), float(maximum)
        return self

    def one_of(self, *choices: str) -> "Key":
        """The values a string may take."""
        self._key.choices = list(choices)
        return self

    def to_wit(self) -> wit.ConfigKey:
        """The WIT record the host reads."""
        return self._key


def describe(
    name: str,
    version: str,
    operations: Sequence[Tuple[str, str]],
    secrets: Sequence[str] = (),
    config: Iterable[Key] = (),
    schedules: Sequence[str] = (),
    routes: Sequence[str] = (),
) -> wit.Description:
    """Who the adapter is and what a manifest may say to it (checked by the host at load)."""
    return wit.Description(
        name,
        version,
        [wit.Operation(n, d) for n, d in operations],
        list(secrets),
        [k.to_wit() for k in config],
        list(schedules),
        list(routes),
    )


def _fail(e: AdapterError) -> Err:
    return Err(e.to_wit())


class Adapter(exports.Adapter):
    """The base of every Python adapter: override `describe`, `run` and what else it offers.
    The SDK parses the input, serialises the output and turns `AdapterError` into the WIT's
    error; any other exception is a bug and traps the instance, as a Rust panic does."""

    def describe(self) -> wit.Description:
        raise NotImplementedError("an adapter describes itself")

    def token(self, scope: str) -> wit.TokenGrant:
        """Fetches a token for `scope` from the platform (override when the platform has them)."""
        raise auth("this adapter has no token endpoint")

    def run(self, ctx: CallContext, op: str, input: Any) -> Any:
        """Runs operation `op` on its parsed JSON `input`; returns what becomes JSON output."""
        raise invalid_input(f"unknown operation {op!r}")

    def schedule(self, ctx: CallContext, name: str) -> None:
        """Runs the manifest schedule `name`."""
        raise invalid_input(f"this adapter has no schedule named {name!r}")

    def inbound(self, ctx: CallContext, req: wit.InboundRequest) -> wit.InboundResponse:
        """Answers an inbound route."""
        return wit.InboundResponse(404, [("content-type", "text/plain")], b"no such route")

    # The WIT's exports, in terms of the methods above.

    def fetch_token(self, scope: str) -> wit.TokenGrant:
        try:
            return self.token(scope)
        except AdapterError as e:
            raise _fail(e) from None

    def invoke(self, ctx: CallContext, op: str, input: str) -> str:
        try:
            try:
                value = json.loads(input)
            except ValueError as e:
                raise invalid_input(f"input is not JSON: {e}") from None
            return json.dumps(self.run(ctx, op, value), separators=(",", ":"), ensure_ascii=False)
        except AdapterError as e:
            raise _fail(e) from None

    def handle_inbound(self, ctx: CallContext, req: wit.InboundRequest) -> wit.InboundResponse:
        try:
            return self.inbound(ctx, req)
        except AdapterError as e:
            # The Rust SDK's shape, so a platform sees one answer whatever the adapter's language.
            status = {"invalid-input": 400, "rejected": 409 if e.conflict else 422, "auth": 401}
            details = [
                {"index": d.index, "field": d.field, "code": d.code, "message": d.message}
                for d in e.details
            ]
            error = {"kind": e.kind, "code": e.code, "message": e.message, "details": details}
            body = json.dumps({"error": error}).encode()
            return wit.InboundResponse(
                status.get(e.kind, 503), [("content-type", "application/json")], body
            )

    def on_schedule(self, ctx: CallContext, name: str) -> None:
        try:
            self.schedule(ctx, name)
        except AdapterError as e:
            raise _fail(e) from None


def fields(value: Any, allowed: Iterable[str], where: str = "input") -> dict:
    """`value` as an object with no key outside `allowed`: the caller's typo is named, not
    ignored."""
    if not isinstance(value, dict):
        raise invalid_input(f"{where}: expected an object")
    allowed = set(allowed)
    for k in value:
        if k not in allowed:
            raise invalid_input(f"{where}: unknown field {k!r}, expected one of {sorted(allowed)}")
    return value
