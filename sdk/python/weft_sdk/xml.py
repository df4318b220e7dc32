"""XML as JSON, as the Rust SDK reads and writes it: an element with children becomes an
object (repeated names become lists), a text-only element a string; attributes, comments and
processing instructions are skipped."""

from __future__ import annotations

import json
import re
from typing import Any, Tuple
from xml.sax.saxutils import escape, quoteattr

_NAME = re.compile(r"^[^\W\d][\w.-]*$")


def to_json(text: str) -> Tuple[str, Any]:
    """Reads an XML document into (root name, JSON); a malformed one raises ValueError."""
    # The parser (pyexpat) is imported on use: an adapter that never reads XML does not pay
    # for it when its instance starts.
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise ValueError(str(e)) from None
    return root.tag, _value(root)


def _value(element) -> Any:
    children = list(element)
    if not children:
        # Line breaks around a value are indentation; spaces on one line are data.
        text = element.text or ""
        return text.strip() if "\n" in text else text
    out: dict = {}
    for child in children:
        value = _value(child)
        if child.tag in out:
            if not isinstance(out[child.tag], list):
                out[child.tag] = [out[child.tag]]
            out[child.tag].append(value)
        else:
            out[child.tag] = value
    return out


def from_json(root: str, value: Any) -> str:
    """`value` as an XML document with root element `root`: an object's fields become
    elements, a list repeats its element, anything else escaped text. Field names that are
    not XML names are written as `<field name="…">`."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    _element(out, root, value)
    return "".join(out)


def _element(out: list, name: str, value: Any) -> None:
    if isinstance(value, list):
        for item in value:
            _element(out, name, item)
        return
    if _NAME.match(name):
        open_, close = f"<{name}>", f"</{name}>"
    else:
        open_, close = f"<field name={quoteattr(name)}>", "</field>"
    out.append(open_)
    if isinstance(value, dict):
        for k, v in value.items():
            _element(out, k, v)
    elif value is None:
        pass
    elif isinstance(value, str):
        out.append(escape(value))
    else:
        out.append(json.dumps(value))
    out.append(close)
