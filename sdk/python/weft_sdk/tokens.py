"""The host's token cache: ask right before each send, and say when the platform refused one."""

from __future__ import annotations

from typing import Callable, TypeVar

from componentize_py_types import Err
from wit_world.imports import tokens as wit

from .errors import AdapterError, rejected, transient

T = TypeVar("T")


def get(scope: str = "") -> str:
    """A valid token for `scope` ("" for the adapter's only one); the host fetches on a miss."""
    try:
        return wit.get(scope)
    except Err as e:
        v = e.value
        if isinstance(v, wit.TokenError_FetchFailed):
            raise AdapterError.from_wit(v.value) from None
        if isinstance(v, wit.TokenError_Denied):
            raise rejected("denied", v.value) from None
        if isinstance(v, wit.TokenError_RateLimited):
            raise transient(
                f"token endpoint may be called again in {v.value} ms", "token-rate-limited", v.value
            ) from None
        raise transient(v.value, "token") from None


def invalidate(scope: str, refused: str) -> None:
    """Reports that the platform refused `refused`; the host refreshes once, however many ask."""
    wit.invalidate(scope, refused)


def with_token(scope: str, send: Callable[[str], T]) -> T:
    """Runs `send` with the current token; an `auth` failure invalidates that token, so the
    host's retry of the call gets a fresh one."""
    token = get(scope)
    try:
        return send(token)
    except AdapterError as e:
        if e.kind == "auth":
            invalidate(scope, token)
        raise
