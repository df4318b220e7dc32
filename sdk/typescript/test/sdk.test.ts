// The TypeScript SDK's own helpers under Node (`node sdk/typescript/test.mjs`, run by
// `make test`), each held to what the Rust SDK does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdapterError, dates, detail, http, invalidInput, invalidRows, rejected, transient, xml } from '../src/index.ts';

test('every bad row is summarised by the first and shifts into the caller’s indexes', () => {
  const e = invalidRows('items', [detail(2, 'qty', undefined, 'negative'), detail(5, undefined, undefined, 'x')]);
  assert.ok(e);
  assert.equal(e.message, '2 problem(s) in items, first: items[2].qty: negative');
  const moved = e.shiftIndexes(500).context('request 2 of 3');
  assert.deepEqual(moved.details.map((d) => d.index), [502, 505]);
  assert.ok(moved.message.startsWith('request 2 of 3: 2 problem(s)'));
  assert.equal(invalidRows('items', []), undefined);
});

test('each kind crosses to the WIT and back, its payload its own property', () => {
  for (const e of [invalidInput('bad', [detail(1, 'f', 'c', 'm')]), rejected('E1', 'no', true), transient('later', '503', 1500)]) {
    assert.ok(Object.hasOwn(e, 'payload'), 'the bindings read an own property');
    const back = AdapterError.fromWit(e.payload);
    assert.deepEqual([back.kind, back.message, back.code, back.details, back.conflict, back.retryAfterMs], [e.kind, e.message, e.code, e.details, e.conflict, e.retryAfterMs]);
  }
});

test('form encoding is the Rust SDK’s', () => {
  assert.equal(http.formEncode([['a b', "x+y/z=1*~!'()"]]), 'a+b=x%2By%2Fz%3D1*%7E%21%27%28%29');
});

test('statuses mean what the Rust SDK says', () => {
  const judge = (status: number, headers: Array<[string, string]> = []) => {
    try {
      new http.Response(status, headers, new TextEncoder().encode('oops')).classify('call');
      return 'ok';
    } catch (e) {
      const a = e as AdapterError;
      return [a.kind, a.code, a.retryAfterMs];
    }
  };
  assert.equal(judge(204), 'ok');
  assert.equal((judge(401) as unknown[])[0], 'auth');
  assert.deepEqual(judge(429, [['Retry-After', '3']]), ['transient', '429', 3000]);
  assert.deepEqual(judge(422), ['rejected', '422', undefined]);
  const body = new TextEncoder().encode('{"error": {"code": "E1001", "message": "sku unknown"}}');
  assert.throws(() => new http.Response(422, [], body).classifyWith('send', '/error/code', '/error/message'), (e: AdapterError) => e.code === 'E1001' && e.message === 'send: HTTP 422: E1001: sku unknown');
});

test('XML reads as JSON and writes back', () => {
  const [root, value] = xml.toJson('<r><a>1</a><a>2</a><b> x y </b><c>\n  z\n</c><d/><e>A &amp; B</e></r>');
  assert.equal(root, 'r');
  assert.deepEqual(value, { a: ['1', '2'], b: ' x y ', c: 'z', d: '', e: 'A & B' });
  assert.equal(
    xml.fromJson('r', { a: [1, 2], b: 'x<y', c: null, 'odd name': { g: true } }),
    '<?xml version="1.0" encoding="UTF-8"?><r><a>1</a><a>2</a><b>x&lt;y</b><c></c><field name="odd name"><g>true</g></field></r>',
  );
  assert.throws(() => xml.toJson('<r><a></r>'));
});

test('offsets and dates are checked', () => {
  assert.equal(dates.parseOffset('+08:00'), 480);
  assert.equal(dates.parseOffset('-03:30'), -210);
  for (const bad of ['+8', '08:00', '+24:00', '+08:60']) assert.throws(() => dates.parseOffset(bad));
  dates.checkDate('2026-02-28');
  for (const bad of ['2026-02-30', '2026-2-1', '20260201']) assert.throws(() => dates.checkDate(bad));
  assert.equal(dates.day(480, -1).length, 10);
});
