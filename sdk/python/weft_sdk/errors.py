"""Adapter errors: the four kinds the host acts on, with the helpers the Rust SDK has.

The host retries `transient`, refreshes the token once on `auth`, and never retries
`invalid_input` or `rejected`. Raise an `AdapterError` anywhere in an operation; the SDK turns it
into the WIT `adapter-error`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import List, Optional

from wit_world.imports import types as wit


@dataclass
class AdapterError(Exception):
    """Why an operation failed, as the host needs to know it.

    kind is one of "invalid-input", "rejected", "auth", "transient".
    """

    kind: str
    message: str
    code: Optional[str] = None
    details: List[wit.Detail] = field(default_factory=list)
    conflict: bool = False
    retry_after_ms: Optional[int] = None

    def __str__(self) -> str:
        if self.kind == "rejected":
            return f"rejected ({self.code}): {self.message}"
        return f"{self.kind.replace('-', ' ')}: {self.message}"

    def context(self, prefix: str) -> "AdapterError":
        """The same error with `prefix: ` before its message (which request of several it was)."""
        return replace(self, message=f"{prefix}: {self.message}")

    def shift_indexes(self, offset: int) -> "AdapterError":
        """Every detail's row index moved by `offset`: a chunk's details as indexes into the
        caller's whole input."""
        shifted = [
            replace(d, index=None if d.index is None else min(d.index + offset, 2**32 - 1))
            for d in self.details
        ]
        return replace(self, details=shifted)

    def with_details(self, more: List[wit.Detail]) -> "AdapterError":
        """Adds per-row details (to invalid input or a rejection)."""
        return replace(self, details=self.details + list(more))

    def to_wit(self) -> wit.AdapterError:
        """The WIT variant the host reads."""
        if self.kind == "invalid-input":
            return wit.AdapterError_InvalidInput(wit.InputProblem(self.message, self.details))
        if self.kind == "rejected":
            return wit.AdapterError_Rejected(
                wit.Rejection(self.code or "", self.message, self.details, self.conflict)
            )
        if self.kind == "auth":
            return wit.AdapterError_Auth(self.message)
        return wit.AdapterError_Transient(
            wit.TransientFailure(self.message, self.code, self.retry_after_ms)
        )

    @staticmethod
    def from_wit(e: wit.AdapterError) -> "AdapterError":
        """The SDK's error for a WIT variant (a recorded step's failure, a token fetch's)."""
        if isinstance(e, wit.AdapterError_InvalidInput):
            return AdapterError("invalid-input", e.value.message, details=e.value.details)
        if isinstance(e, wit.AdapterError_Rejected):
            r = e.value
            return AdapterError("rejected", r.message, r.code, r.details, r.conflict)
        if isinstance(e, wit.AdapterError_Auth):
            return AdapterError("auth", e.value)
        t = e.value
        return AdapterError("transient", t.message, t.code, retry_after_ms=t.retry_after_ms)


def invalid_input(message: str, details: Optional[List[wit.Detail]] = None) -> AdapterError:
    """The caller's input is wrong; nothing was sent."""
    return AdapterError("invalid-input", message, details=list(details or []))


def rejected(code: str, message: str, conflict: bool = False) -> AdapterError:
    """The platform said no, with its code and message."""
    return AdapterError("rejected", message, code, conflict=conflict)


def auth(message: str) -> AdapterError:
    """The token or the credentials were refused."""
    return AdapterError("auth", message)


def transient(message: str, code: Optional[str] = None, retry_after_ms: Optional[int] = None) -> AdapterError:
    """A failure worth retrying later."""
    return AdapterError("transient", message, code, retry_after_ms=retry_after_ms)


def detail(index: Optional[int], field_name: Optional[str], code: Optional[str], message: str) -> wit.Detail:
    """A problem with the row at `index` of the caller's input."""
    return wit.Detail(index, field_name, code, message)


def invalid_rows(list_name: str, problems: List[wit.Detail]) -> Optional[AdapterError]:
    """Invalid input listing every problem in the caller's `list_name`, summarised by the
    first; None when there is none."""
    if not problems:
        return None
    first = problems[0]
    where = f".{first.field}" if first.field else ""
    summary = (
        f"{len(problems)} problem(s) in {list_name}, first: "
        f"{list_name}[{first.index or 0}]{where}: {first.message}"
    )
    return invalid_input(summary, problems)
