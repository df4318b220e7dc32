"""Weft adapter for Sekorm serviceGate stock synchronisation, in Python: the Rust Sekorm's
behaviour, line for line where the platform's dialect is concerned.

Every call is a form-encoded POST carrying `accessToken`; answers are
`{"code": 0 | -1, "msg": …, "data": …}`. The token comes from `getAccessToken` and is cached by
the host for its `expiresIn`.
"""

import weft_sdk
from weft_sdk import dates, detail, invalid_input, invalid_rows, log, report, storage

from dialect import Platform, keys
from stock import validate_items

# Key prefix of the day's recorded quantity changes, followed by `YYYY-MM-DD/`.
CHANGES = "changes/"
# Key of the last day the schedule reconciled.
RECONCILED = "reconciled/last"
# After `changes/DAY/`: the items of one full-sync request (a brand name cannot hold U+001F).
FULL = "\x1ffull/"
# Items per recorded full-sync piece (a piece is one storage value).
RECORD_PIECE = 1000


class Adapter(weft_sdk.Adapter):
    def describe(self):
        return weft_sdk.describe(
            "sekorm",
            "0.1.0",
            [
                ("full-sync", "send the whole stock (pnStock), in chunks of config.chunk_size"),
                ("update-quantity", "send one item's new quantity in real time (updQuantity) and record it for the day's reconciliation"),
                ("reconcile", "send the day's changed items for comparison (compare)"),
            ],
            secrets=["account", "app_secret"],
            config=keys(),
            schedules=["daily-reconcile"],
        )

    def token(self, scope):
        return Platform().fetch_token()

    def run(self, ctx, op, input):
        platform = Platform()
        if op == "full-sync":
            return full_sync(ctx, platform, input)
        if op == "update-quantity":
            return update_quantity(platform, input)
        if op == "reconcile":
            return reconcile(platform, input)
        raise invalid_input(f"unknown operation {op!r}")

    def schedule(self, ctx, name):
        platform = Platform()
        if name != platform.config["reconcile_schedule"]:
            raise invalid_input(
                f"unknown schedule {name!r} (this adapter runs {platform.config['reconcile_schedule']!r})"
            )
        reconcile_due_days(platform)


def refuse_duplicates(items):
    """The same pnCode and brandName twice in one request is refused, naming both indexes."""
    first, problems = {}, []
    for j, item in enumerate(items):
        key = (item["brandName"], item["pnCode"])
        if key in first:
            i = first[key]
            problems.append(detail(j, "pnCode", None,
                f'repeats items[{i}] (pnCode "{item["pnCode"]}", brandName "{item["brandName"]}"): send each item once'))
        else:
            first[key] = j
    e = invalid_rows("items", problems)
    if e:
        raise e


def send_in_chunks(platform, path, items, sent=None):
    """Sends `items` in requests of chunk_size; a failure names its request, the caller's
    indexes of its items, and what the platform already applied."""
    size = platform.config["chunk_size"]
    count = -(-len(items) // size)
    for n in range(count):
        offset = n * size
        part = items[offset:offset + size]
        try:
            platform.post_data(path, part)
        except weft_sdk.AdapterError as e:
            raise e.shift_indexes(offset).context(
                f"request {n + 1} of {count} (items {offset} to {offset + len(part) - 1}) failed; "
                f"the platform already applied {n} request(s), {offset} item(s)"
            ) from None
        if sent:
            sent(n, part)
    return count


def full_sync(ctx, platform, input):
    input = weft_sdk.fields(input, ["items"])
    if "items" not in input:
        raise invalid_input("input: missing field `items`")
    items = validate_items(input["items"])
    refuse_duplicates(items)
    day = platform.day(0)

    def record(n, part):
        # What full-sync set counts as the day's change too; keeping the record is not worth
        # failing a call whose items the platform already took.
        for k in range(0, len(part), RECORD_PIECE):
            key = f"{CHANGES}{day}/{FULL}{ctx.call_id}/{n:06}-{k // RECORD_PIECE:03}"
            piece = {"at_ms": dates.now_ms(), "items": part[k:k + RECORD_PIECE]}
            try:
                storage.set_json_expiring(key, piece, platform.changes_kept_ms())
            except weft_sdk.AdapterError as e:
                log("warn", "full-sync items not recorded for the day's reconciliation", error=str(e))

    chunks = send_in_chunks(platform, platform.config["full_sync_path"], items, record)
    # The platform takes a request whole or refuses it whole: a success is every item taken.
    report(len(items), [])
    return {"items": len(items), "chunks": chunks, "chunk_size": platform.config["chunk_size"]}


def update_quantity(platform, input):
    item = validate_items([input])[0]
    platform.post_form(platform.config["update_path"], [
        ("pnCode", item["pnCode"]),
        ("brandName", item["brandName"]),
        ("stockQuantity", str(item["stockQuantity"])),
    ])
    day = platform.day(0)
    storage.set_json_expiring(change_key(day, item), {**item, "at_ms": dates.now_ms()}, platform.changes_kept_ms())
    return {"updated": item, "recorded_for": day}


def day_changes(date):
    """Every change recorded for `date` (update-quantity and full-sync), the last of each item."""
    prefix = f"{CHANGES}{date}/"
    last = {}

    def keep(at_ms, item):
        key = (item["brandName"], item["pnCode"])
        if key not in last or last[key][0] <= at_ms:
            last[key] = (at_ms, {k: item[k] for k in ("pnCode", "brandName", "stockQuantity")})

    for key in storage.list_all(prefix):
        value = storage.get_json(key)
        if value is None:
            continue
        if key[len(prefix):].startswith(FULL):
            for item in value["items"]:
                keep(value["at_ms"], item)
        else:
            keep(value.get("at_ms", 0), value)
    return [item for _, (_, item) in sorted(last.items())]


def reconcile(platform, input):
    input = weft_sdk.fields(input, ["date", "items"])
    date = input.get("date")
    if date is None:
        date = platform.day(0)
    elif not isinstance(date, str):
        raise invalid_input('date: expected a date such as "2026-11-23"')
    else:
        try:
            dates.check_date(date)
        except weft_sdk.AdapterError as e:
            raise e.context("date") from None
    if input.get("items") is not None:
        items = validate_items(input["items"])
        refuse_duplicates(items)
    else:
        items = day_changes(date)
    if not items:
        return {"date": date, "items": 0, "sent": False, "requests": 0}
    try:
        requests = send_in_chunks(platform, platform.config["compare_path"], items)
    except weft_sdk.AdapterError as e:
        raise e.context(f"reconciliation of {date}") from None
    return {"date": date, "items": len(items), "sent": True, "requests": requests}


def reconcile_due_days(platform):
    """Every complete day not reconciled yet, oldest first, as far back as changes are kept: a
    day missed while Weft was down is caught up; a failure leaves the rest for the next try."""
    last = storage.get_json(RECONCILED)
    newest = min(platform.config["reconcile_day_offset"], 0)
    oldest = -platform.config["changes_retention_days"]
    for offset in range(oldest, newest + 1):
        day = platform.day(offset)
        if last is not None and day <= last:
            continue
        out = reconcile(platform, {"date": day})
        if out["sent"]:
            log("info", "daily reconciliation sent", date=day, items=out["items"])
        storage.set_json(RECONCILED, day)


def change_key(day, item):
    # The unit separator cannot appear in a validated brand name, so keys never collide.
    return f"{CHANGES}{day}/{item['brandName']}\x1f{item['pnCode']}"
