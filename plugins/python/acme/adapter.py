"""Weft adapter for acme, made by `weft new adapter --lang python`: a login token (client
credentials), one operation that sends items in batches, and the SDK's usual reading of HTTP
statuses. Change what your platform does differently; `weft test plugins/python/acme/fixtures`
checks it."""

import weft_sdk
from weft_sdk import Key, http, invalid_input, secret, steps, tokens, transient

# The operations: (name, what it does). `describe` and `run` both read this table.
OPERATIONS = [("send-items", "send input.items in batches")]


class Adapter(weft_sdk.Adapter):
    def describe(self):
        return weft_sdk.describe(
            "acme",
            "0.1.0",
            OPERATIONS,
            secrets=["client_id", "client_secret"],
            # The `[config]` keys, each declared once: `weft check` refuses a manifest with a
            # typo in them or a value out of range, and the host fills in the defaults.
            config=[
                Key.text("token_path", "the token endpoint").default("/oauth/token"),
                Key.text("items_path", "where items go").default("/items"),
                Key.integer("batch_size", "items per request").range(1, 10_000).default(100),
            ],
        )

    def token(self, scope):
        c = weft_sdk.config()
        response = http.post(http.join(c["base_url"], c["token_path"])).form([
            ("grant_type", "client_credentials"),
            ("client_id", secret("client_id")),
            ("client_secret", secret("client_secret")),
        ]).send()
        # A refused login is `auth`: the host does not retry it.
        answer = response.classify("token").json()
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str):
            raise transient("token answer without access_token")
        expires = answer.get("expires_in")
        return weft_sdk.TokenGrant(token, expires if isinstance(expires, int) else None)

    def run(self, ctx, op, input):
        if op == "send-items":
            return send_items(input)
        raise invalid_input(f"unknown operation {op!r}")


def send_items(input):
    """Sends the items in batches of `batch_size`, each batch a durable step (`batch/1`,
    `batch/2`, …): when the host runs the call again — after a 429, a refused token, a crash —
    the batches the platform already took are not sent again. A failed batch says which, and
    how many items the platform had already taken. `steps.UNSAFE`: a batch that went out and got
    no answer stops the call as outcome-unknown rather than risk sending its items twice; where
    the platform takes the same items twice harmlessly (an upsert by SKU), say `steps.SAFE`."""
    c = weft_sdk.config()
    items = weft_sdk.fields(input, ["items"]).get("items")
    if not isinstance(items, list) or not items:
        raise invalid_input("items: at least one item")
    url = http.join(c["base_url"], c["items_path"])

    def send(seq):
        part = items[seq.rows.start:seq.rows.stop]

        def post(token):
            response = http.post(url).header("Authorization", f"Bearer {token}").json({"items": part}).send()
            # The platform says what it refused in `{"error": "..."}`.
            return response.classify_with("send-items", None, "/error").json()

        try:
            answer = tokens.with_token("", post)
        except weft_sdk.AdapterError as e:
            before = seq.rows.start
            raise e.shift_indexes(before).context(
                f"batch {seq.seq_id} of {seq.seq_count}; {before} item(s) were accepted before it"
            ) from None
        accepted = answer.get("accepted") if isinstance(answer, dict) else None
        return accepted if isinstance(accepted, int) else len(part)

    accepted = steps.in_batches("batch", len(items), c["batch_size"], steps.UNSAFE, send)
    return {"accepted": sum(accepted), "batches": len(accepted)}
