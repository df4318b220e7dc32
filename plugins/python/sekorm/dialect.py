"""Sekorm's dialect: form-encoded calls, the `{code, msg, data}` envelope and its -1 messages."""

import json

import weft_sdk
from weft_sdk import Key, dates, http, rejected, secret, tokens, transient


def keys():
    """The `[config]` keys, each declared once; the host checks them and fills in defaults."""
    return [
        Key.text("token_path", "path of getAccessToken").default("getAccessToken"),
        Key.text("token_method", "GET (query) or POST (form body) for getAccessToken").one_of("GET", "POST").default("POST"),
        Key.text("full_sync_path", "path of pnStock").default("pnarttnumber/pnStock"),
        Key.text("update_path", "path of updQuantity").default("stock/updQuantity"),
        Key.text("compare_path", "path of compare").default("stock/compare"),
        Key.integer("chunk_size", "items per request").range(1, 100_000).default(500),
        Key.text("utc_offset", "the UTC offset that defines a day, e.g. +08:00").default("+08:00"),
        Key.text("reconcile_schedule", "name of the reconciliation schedule").default("daily-reconcile"),
        Key.integer("reconcile_day_offset", "newest day reconciled: -1 the day before, 0 today so far").range(-1, 0).default(-1),
        Key.integer("changes_retention_days", "days of recorded changes kept").range(1, 3660).default(7),
    ]


class Platform:
    """The platform as the manifest configures it."""

    def __init__(self):
        self.config = weft_sdk.config()
        try:
            self.offset = dates.parse_offset(self.config["utc_offset"])
        except weft_sdk.AdapterError as e:
            raise e.context("manifest [config] utc_offset") from None

    def changes_kept_ms(self):
        """A change is kept until its day falls out of the days the schedule looks back over,
        with a day to spare for offsets."""
        return (self.config["changes_retention_days"] + 2) * 86_400_000

    def day(self, days):
        return dates.day(self.offset, days)

    def fetch_token(self):
        fields = [("accessToken", secret("account")), ("appSecret", secret("app_secret"))]
        url = http.join(self.config["base_url"], self.config["token_path"])
        if self.config["token_method"] == "GET":
            request = http.get(f"{url}?{http.form_encode(fields)}")
        else:
            request = http.post(url).form(fields)
        data = check(request.send())
        token = data.get("accessToken") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise transient("getAccessToken answered code 0 without data.accessToken")
        expires = data.get("expiresIn")
        valid = isinstance(expires, int) and not isinstance(expires, bool) and expires >= 0
        return weft_sdk.TokenGrant(token, expires if valid else None)

    def post_form(self, path, fields):
        """Posts `accessToken` plus `fields` to `path`."""
        url = http.join(self.config["base_url"], path)
        return tokens.with_token(
            "", lambda token: check(http.post(url).form([("accessToken", token), *fields]).send())
        )

    def post_data(self, path, items):
        """Posts `items` as the `data` JSON-array string to `path`."""
        data = json.dumps(items, separators=(",", ":"), ensure_ascii=False)
        return self.post_form(path, [("data", data)])


def check(response):
    """An answer's data, or the error kind its code and message mean."""
    response.classify("Sekorm")
    envelope = response.json()
    code = envelope.get("code") if isinstance(envelope, dict) else None
    if not isinstance(code, int) or isinstance(code, bool):
        raise transient(f"HTTP {response.status} answer is not the expected JSON (no integer code): {http.snippet(response.body)}")
    if code == 0:
        return envelope.get("data")
    msg = envelope.get("msg") or ""
    said = msg.strip().lower()
    if said == "no permission":
        raise weft_sdk.auth(f"Sekorm: {msg} (permission denied: token invalid or expired, or the account lacks rights)")
    if said == "system error":
        raise transient(f"Sekorm: {msg}", str(code))
    if said == "ip invalid":
        raise rejected(str(code), f"Sekorm: {msg} (this host's IP is not on Sekorm's allow-list)")
    if said == "sp already forbidden":
        raise rejected(str(code), f"Sekorm: {msg} (the service provider account is disabled)")
    raise rejected(str(code), f"Sekorm: {msg}")
