"""Outbound HTTP through the host (which checks `allowed_hosts`, applies limits and redacts),
and the usual meaning of a platform's status."""

from __future__ import annotations

import email.utils
import json as _json
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, List, Optional, Tuple

from componentize_py_types import Err
from wit_world.imports import http as wit

from .errors import AdapterError, auth, invalid_input, rejected, transient

_METHODS = {m.name.upper(): m for m in wit.Method}


def snippet(body: bytes | str) -> str:
    """At most 200 characters of a body, for error messages."""
    text = body if isinstance(body, str) else body.decode("utf-8", "replace")
    return text[:200] + ("…" if len(text) > 200 else "")


def form_encode(fields: List[Tuple[str, str]]) -> str:
    """`application/x-www-form-urlencoded`, with `+`, `/` and `=` escaped."""
    def enc(text: str) -> str:
        # WHATWG's set, as the Rust SDK encodes: `*` stays, `~` is escaped.
        return urllib.parse.quote_plus(text, safe="*").replace("~", "%7E")

    return "&".join(f"{enc(n)}={enc(v)}" for n, v in fields)


def join(base: str, path: str) -> str:
    """`base` and `path` with exactly one slash between them."""
    return base.rstrip("/") + "/" + path.lstrip("/")


def http_error(e: wit.HttpError) -> AdapterError:
    """A send that got no answer: worth a retry, except a denied host or a malformed request."""
    if isinstance(e, wit.HttpError_Denied):
        return rejected("denied", e.value)
    if isinstance(e, wit.HttpError_InvalidRequest):
        return invalid_input(e.value)
    if isinstance(e, wit.HttpError_TooLarge):
        return rejected("too-large", e.value)
    if isinstance(e, wit.HttpError_Timeout):
        return transient(e.value, "timeout")
    return transient(e.value, "connect")


@dataclass
class Response:
    """A platform's answer, whatever its status."""

    status: int
    headers: List[Tuple[str, str]]
    body: bytes

    def header(self, name: str) -> Optional[str]:
        """The first header called `name`, case-insensitively."""
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)

    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON; a body that is not JSON (a proxy's page, a cut answer) is transient."""
        try:
            return _json.loads(self.body)
        except ValueError as e:
            raise transient(
                f"HTTP {self.status} answer is not the expected JSON ({e}): {snippet(self.body)}"
            ) from None

    def retry_after_ms(self) -> Optional[int]:
        """The wait `Retry-After` asks for: seconds, or an HTTP date counted from now."""
        value = (self.header("retry-after") or "").strip()
        if value.isdigit():
            return int(value) * 1000
        try:
            at = email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            return None
        return max(0, int((at - time.time()) * 1000))

    def classify(self, what: str) -> "Response":
        """2xx is the answer; 401 and 403 auth; 429 and 5xx transient (honouring Retry-After);
        any other status rejected with the status as its code. Check your platform's
        exceptions first, then call this."""
        return self._judge(what, None, snippet(self.body))

    def classify_with(self, what: str, code_at: Optional[str], message_at: str) -> "Response":
        """`classify`, reading the platform's code and message from an error's JSON body at
        the given JSON pointers (`/error/code`)."""
        if 200 <= self.status < 300:
            return self
        try:
            parsed = _json.loads(self.body)
        except ValueError:
            parsed = None

        def read(pointer: Optional[str]) -> Optional[str]:
            node = parsed
            if pointer is None:
                return None
            for part in pointer.strip("/").split("/"):
                if isinstance(node, dict):
                    node = node.get(part)
                elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                    node = node[int(part)]
                else:
                    return None
            if isinstance(node, bool):
                return None
            if isinstance(node, (int, float)) or (isinstance(node, str) and node):
                return str(node)
            return None

        said = read(message_at)
        return self._judge(what, read(code_at), snippet(said) if said else snippet(self.body))

    def _judge(self, what: str, code: Optional[str], said: str) -> "Response":
        s = self.status
        message = f"{what}: HTTP {s}: {code}: {said}" if code else f"{what}: HTTP {s}: {said}"
        code = code or str(s)
        if 200 <= s < 300:
            return self
        if s in (401, 403):
            raise auth(message)
        if s == 429 or 500 <= s < 600:
            raise transient(message, code, self.retry_after_ms())
        raise rejected(code, message)


@dataclass
class Request:
    """An outbound request, built a piece at a time."""

    method: str
    url: str
    headers: List[Tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    timeout_ms: Optional[int] = None

    def query(self, params: List[Tuple[str, str]]) -> "Request":
        """Appends `params` to the URL's query."""
        sep = "&" if "?" in self.url else "?"
        self.url += sep + form_encode(params)
        return self

    def header(self, name: str, value: str) -> "Request":
        """Adds a header."""
        self.headers.append((name, value))
        return self

    def json(self, value: Any) -> "Request":
        """A JSON body."""
        self.body = _json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
        return self.header("content-type", "application/json")

    def form(self, fields: List[Tuple[str, str]]) -> "Request":
        """A form body."""
        self.body = form_encode(fields).encode()
        return self.header("content-type", "application/x-www-form-urlencoded")

    def send(self) -> Response:
        """Sends it through the host; no answer raises the matching `AdapterError`."""
        try:
            r = wit.send(
                wit.Request(_METHODS[self.method.upper()], self.url, self.headers, self.body, self.timeout_ms)
            )
        except Err as e:
            raise http_error(e.value) from None
        return Response(r.status, r.headers, bytes(r.body))


def get(url: str) -> Request:
    """A GET request."""
    return Request("GET", url)


def post(url: str) -> Request:
    """A POST request."""
    return Request("POST", url)
