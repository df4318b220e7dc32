"""Stock items and the document's limits on them, checked before anything is sent."""

from weft_sdk import detail, invalid_input, invalid_rows

# Longest pnCode and brandName the document allows.
MAX_LEN = 50
FIELDS = ("pnCode", "brandName", "stockQuantity")


def validate_items(items):
    """Every item checked against the document; all problems at once, each with its index."""
    if not isinstance(items, list):
        raise invalid_input("input: items: expected a list of items")
    if not items:
        raise invalid_input("items: at least one item is required")
    problems, valid = [], []
    for i, raw in enumerate(items):
        found = []
        item = validate_item(raw, found)
        if found:
            problems.extend(detail(i, f, None, m) for f, m in found)
        else:
            valid.append(item)
    e = invalid_rows("items", problems)
    if e:
        raise e
    return valid


def validate_item(raw, problems):
    if not isinstance(raw, dict):
        problems.append((None, "expected an object with pnCode, brandName and stockQuantity"))
        return None
    for key in raw:
        if key not in FIELDS:
            problems.append((None, f'unknown field "{key}"'))
    item = {"pnCode": text(raw, "pnCode", problems), "brandName": text(raw, "brandName", problems)}
    q = raw.get("stockQuantity")
    if "stockQuantity" not in raw:
        problems.append(("stockQuantity", "is required"))
    elif isinstance(q, bool) or not isinstance(q, int):
        problems.append(("stockQuantity", f"expected an integer, found {q!r}"))
    elif not 0 <= q <= 2_147_483_647:
        problems.append(("stockQuantity", f"expected 0..=2147483647, found {q}"))
    item["stockQuantity"] = q
    return item


def text(raw, field, problems):
    value = raw.get(field)
    if field not in raw:
        problems.append((field, "is required"))
    elif not isinstance(value, str):
        problems.append((field, f"expected a string, found {value!r}"))
    elif not value.strip():
        problems.append((field, "must not be empty"))
    elif len(value) > MAX_LEN:
        problems.append((field, f"at most {MAX_LEN} characters, found {len(value)}"))
    elif any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value):
        problems.append((field, "must not contain control characters"))
    return value
