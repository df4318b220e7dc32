"""The Python SDK's own helpers, run natively under CPython against the WIT's generated types
(`make test` generates them with `componentize-py bindings`); what crosses into the host is
proven by the adapters' fixtures and scenarios."""

import unittest

from wit_world.imports import types as wit

from weft_sdk import dates, errors, http, xml


class Errors(unittest.TestCase):
    def test_every_bad_row_is_summarised_by_the_first_and_shifts_into_the_callers_indexes(self):
        e = errors.invalid_rows("items", [errors.detail(2, "qty", None, "negative"), errors.detail(5, None, None, "x")])
        self.assertEqual(e.message, "2 problem(s) in items, first: items[2].qty: negative")
        moved = e.shift_indexes(500).context("request 2 of 3")
        self.assertEqual([d.index for d in moved.details], [502, 505])
        self.assertTrue(moved.message.startswith("request 2 of 3: 2 problem(s)"))
        self.assertIsNone(errors.invalid_rows("items", []))

    def test_each_kind_crosses_to_the_wit_and_back(self):
        for e in [
            errors.invalid_input("bad", [errors.detail(1, "f", "c", "m")]),
            errors.rejected("E1", "no", conflict=True),
            errors.auth("expired"),
            errors.transient("later", "503", 1500),
        ]:
            back = errors.AdapterError.from_wit(e.to_wit())
            self.assertEqual(back, e)
        self.assertIsInstance(errors.auth("x").to_wit(), wit.AdapterError_Auth)


class Http(unittest.TestCase):
    def test_form_encoding_is_the_rust_sdks(self):
        self.assertEqual(http.form_encode([("a b", "x+y/z=1*~")]), "a+b=x%2By%2Fz%3D1*%7E")

    def test_statuses_mean_what_the_rust_sdk_says(self):
        def kind(status, headers=(), body=b"oops"):
            try:
                http.Response(status, list(headers), body).classify("call")
                return "ok"
            except errors.AdapterError as e:
                return (e.kind, e.code, e.retry_after_ms)

        self.assertEqual(kind(204), "ok")
        self.assertEqual(kind(401)[0], "auth")
        self.assertEqual(kind(429, [("Retry-After", "3")]), ("transient", "429", 3000))
        self.assertEqual(kind(503)[:2], ("transient", "503"))
        self.assertEqual(kind(422)[:2], ("rejected", "422"))

    def test_an_error_body_gives_the_platforms_code_and_words(self):
        r = http.Response(422, [], b'{"error": {"code": "E1001", "message": "sku unknown"}}')
        with self.assertRaises(errors.AdapterError) as caught:
            r.classify_with("send", "/error/code", "/error/message")
        self.assertEqual(caught.exception.code, "E1001")
        self.assertEqual(caught.exception.message, "send: HTTP 422: E1001: sku unknown")

    def test_a_body_that_is_not_json_is_transient_and_quoted_short(self):
        with self.assertRaises(errors.AdapterError) as caught:
            http.Response(200, [], b"<html>" + b"x" * 500).json()
        self.assertEqual(caught.exception.kind, "transient")
        self.assertLess(len(caught.exception.message), 400)


class Xml(unittest.TestCase):
    def test_xml_reads_as_json_and_writes_back(self):
        root, value = xml.to_json("<r><a>1</a><a>2</a><b> x y </b><c>\n  z\n</c><d/><e>A &amp; B</e></r>")
        self.assertEqual(root, "r")
        self.assertEqual(value, {"a": ["1", "2"], "b": " x y ", "c": "z", "d": "", "e": "A & B"})
        text = xml.from_json("r", {"a": [1, 2], "b": "x<y", "c": None, "odd name": {"g": True}})
        self.assertEqual(
            text,
            '<?xml version="1.0" encoding="UTF-8"?><r><a>1</a><a>2</a><b>x&lt;y</b><c></c><field name="odd name"><g>true</g></field></r>',
        )
        with self.assertRaises(ValueError):
            xml.to_json("<r><a></r>")


class Dates(unittest.TestCase):
    def test_offsets_and_dates_are_checked(self):
        self.assertEqual(dates.parse_offset("+08:00").utcoffset(None).total_seconds(), 8 * 3600)
        self.assertEqual(dates.parse_offset("-03:30").utcoffset(None).total_seconds(), -3.5 * 3600)
        for bad in ["+8", "08:00", "+24:00", "+08:60"]:
            with self.assertRaises(errors.AdapterError):
                dates.parse_offset(bad)
        dates.check_date("2026-02-28")
        for bad in ["2026-02-30", "2026-2-1", "20260201"]:
            with self.assertRaises(errors.AdapterError):
                dates.check_date(bad)
        self.assertEqual(len(dates.day(dates.parse_offset("+08:00"), -1)), 10)


if __name__ == "__main__":
    unittest.main()
