/** The host's capabilities lent to the adapter: tokens, storage, durable steps, partial
 * success, config and secrets, logging, jobs and digests, with the Rust SDK's helpers. */
import * as witConfig from 'weft:adapter/config@0.1.0';
import { sha256 as witSha256 } from 'weft:adapter/digest@0.1.0';
import { report as witReport } from 'weft:adapter/items@0.1.0';
import * as witJobs from 'weft:adapter/jobs@0.1.0';
import { write } from 'weft:adapter/log@0.1.0';
import type { Level } from 'weft:adapter/log@0.1.0';
import * as witSteps from 'weft:adapter/steps@0.1.0';
import * as witStorage from 'weft:adapter/storage@0.1.0';
import type { StorageError } from 'weft:adapter/storage@0.1.0';
import * as witTokens from 'weft:adapter/tokens@0.1.0';
import type { TokenError } from 'weft:adapter/tokens@0.1.0';
import { AdapterError, invalidInput, rejected, transient } from './errors.js';

/** The err value of a failed import: the bindings throw it as an error's `payload`. */
export function failure<E>(e: unknown): E {
  if (e && typeof e === 'object' && 'payload' in e) return (e as { payload: E }).payload;
  throw e;
}

/** The whole `[config]` table, defaults filled in by the host. */
export function config<T = Record<string, unknown>>(): T {
  try {
    return JSON.parse(witConfig.all()) as T;
  } catch (e) {
    throw invalidInput(`manifest [config]: ${e}`);
  }
}

/** A `[secrets]` value; its absence is a manifest error naming it. Never log it. */
export function secret(name: string): string {
  const value = witConfig.secret(name);
  if (value === undefined) throw invalidInput(`manifest [secrets] has no secret named "${name}"`);
  return value;
}

/** One record in the host's log; the host redacts secrets and tokens. */
export function log(level: Level, message: string, fields: Record<string, unknown> = {}): void {
  write(level, message, Object.entries(fields).map(([k, v]) => [k, String(v)]));
}

/** Partial success: `accepted` items taken, and each refused one. */
export function report(accepted: number, refused: Array<{ index?: number; code: string; message: string }> = []): void {
  witReport(accepted, refused);
}

/** A durable job of this adapter running `op` with `input` after `delayMs`; its id. */
export function enqueue(op: string, input: unknown, delayMs = 0, key?: string, urgent = false): string {
  try {
    return witJobs.enqueueWithPriority(op, JSON.stringify(input), BigInt(delayMs), key, urgent ? 'urgent' : 'normal');
  } catch (e) {
    const v = failure<witJobs.JobError>(e);
    if (v.tag === 'unavailable') throw transient(v.val, 'jobs');
    if (v.tag === 'limit') throw transient(v.val, 'job-limit');
    throw invalidInput(`job: ${v.val}`);
  }
}

/** SHA-256, computed natively by the host. */
export const sha256 = (data: Uint8Array): Uint8Array => witSha256(data);

/** The host's token cache: ask right before each send. */
export const tokens = {
  /** A valid token for `scope` ("" for the adapter's only one). */
  get(scope = ''): string {
    try {
      return witTokens.get(scope);
    } catch (e) {
      const v = failure<TokenError>(e);
      switch (v.tag) {
        case 'fetch-failed':
          throw AdapterError.fromWit(v.val);
        case 'denied':
          throw rejected('denied', v.val);
        case 'rate-limited':
          throw transient(`token endpoint may be called again in ${v.val} ms`, 'token-rate-limited', Number(v.val));
        default:
          throw transient(v.val, 'token');
      }
    }
  },
  /** Reports that the platform refused `refused`. */
  invalidate(scope: string, refused: string): void {
    witTokens.invalidate(scope, refused);
  },
  /** Runs `send` with the current token; an `auth` failure invalidates that token, so the
   * host's retry of the call gets a fresh one. */
  with<T>(scope: string, send: (token: string) => T): T {
    const token = tokens.get(scope);
    try {
      return send(token);
    } catch (e) {
      if (e instanceof AdapterError && e.kind === 'auth') tokens.invalidate(scope, token);
      throw e;
    }
  },
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function store<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    const v = failure<StorageError>(e);
    if (v.tag === 'unavailable') throw transient(`storage: ${v.val}`, 'storage');
    throw invalidInput(`storage: ${v.val}`);
  }
}

/** This adapter's own key-value namespace, with JSON helpers. */
export const storage = {
  /** A value, or undefined. */
  get: (key: string): Uint8Array | undefined => store(() => witStorage.get(key)),
  /** Writes a value that never expires. */
  set: (key: string, value: Uint8Array): void => store(() => witStorage.set(key, value)),
  /** Writes a value that expires `ttlMs` from now. */
  setExpiring: (key: string, value: Uint8Array, ttlMs: number): void =>
    store(() => witStorage.setExpiring(key, value, BigInt(ttlMs))),
  /** Deletes a key; true if it existed. */
  delete: (key: string): boolean => store(() => witStorage.delete(key)),
  /** A JSON value, or undefined. */
  getJson<T = unknown>(key: string): T | undefined {
    const raw = storage.get(key);
    if (raw === undefined) return undefined;
    try {
      return JSON.parse(decoder.decode(raw)) as T;
    } catch (e) {
      throw transient(`storage key "${key}" holds no JSON: ${e}`);
    }
  },
  /** Writes `value` as JSON. */
  setJson: (key: string, value: unknown): void => storage.set(key, encoder.encode(JSON.stringify(value))),
  /** Writes `value` as JSON, expiring `ttlMs` from now. */
  setJsonExpiring: (key: string, value: unknown, ttlMs: number): void =>
    storage.setExpiring(key, encoder.encode(JSON.stringify(value)), ttlMs),
  /** One page of keys under `prefix`, in byte order. */
  listKeys: (prefix: string, startAfter?: string, limit = 1000): string[] =>
    store(() => witStorage.listKeys(prefix, startAfter, limit)),
  /** Every key under `prefix`, paging until the end. */
  listAll(prefix: string): string[] {
    const keys: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = storage.listKeys(prefix, after, 1000);
      keys.push(...page);
      if (page.length < 1000) return keys;
      after = page[page.length - 1];
    }
  },
  /** Sets `key` to `next` (undefined deletes) only if it holds `expected`; true if it did. */
  compareAndSwap: (key: string, expected: Uint8Array | undefined, next: Uint8Array | undefined): boolean =>
    store(() => witStorage.compareAndSwap(key, expected, next)),
};

/** The code of the rejection a step sent and never answered ends its call with. */
export const OUTCOME_UNKNOWN = 'outcome-unknown';

/** Durable steps: a step that already got a definitive answer in an earlier run of this call
 * is not sent again; its recorded value is used instead. */
export function step<T>(name: string, resend: witSteps.Resend, work: () => T): T {
  const recorded = witSteps.begin(name, resend);
  switch (recorded.tag) {
    case 'succeeded':
      return JSON.parse(recorded.val) as T;
    case 'failed':
      throw AdapterError.fromWit(recorded.val);
    case 'unknown':
      throw rejected(OUTCOME_UNKNOWN, recorded.val);
  }
  let value: T;
  try {
    value = work();
  } catch (e) {
    if (e instanceof AdapterError) witSteps.end(name, { tag: 'err', val: e.payload });
    throw e;
  }
  witSteps.end(name, { tag: 'ok', val: JSON.stringify(value) ?? 'null' });
  return value;
}

/** One request's share of a batch: its 1-based number, the count, and the caller's rows
 * `[start, end)`. */
export interface Sequence {
  seqId: number;
  seqCount: number;
  start: number;
  end: number;
}

/** Sends `total` rows in sequences of at most `size` with `send`, each as the durable step
 * `{name}/{seqId}`: when the call runs again (after a 429, a refused token, a crash), the
 * sequences the platform already took are not sent again and their recorded answers stand in.
 * Answers every sequence's answer, in order. */
export function inBatches<T>(name: string, total: number, size: number, resend: witSteps.Resend, send: (seq: Sequence) => T): T[] {
  const per = Math.max(size, 1);
  const seqCount = Math.ceil(total / per);
  const answers: T[] = [];
  for (let i = 0; i < seqCount; i++) {
    const seq = { seqId: i + 1, seqCount, start: i * per, end: Math.min(total, (i + 1) * per) };
    answers.push(step(`${name}/${seq.seqId}`, resend, () => send(seq)));
  }
  return answers;
}

/** The code of the error a list answers when it has more pages than its bound. */
export const TOO_MANY_PAGES = 'too-many-pages';

/** Every row of list `name`: `fetch(at)` answers a page's rows and where the next page starts
 * (undefined after the last: a cursor, an offset, a page number), each page run as the durable
 * step `{name}/page/{n}` (a call run again after a lost answer on page 5 reads from page 5).
 * More than `maxPages` pages is `rejected`, coded `too-many-pages`. */
export function allPages<T, At>(name: string, start: At, maxPages: number, fetch: (at: At) => { items: T[]; next?: At }): T[] {
  const rows: T[] = [];
  let at: At | undefined = start;
  let pages = 0;
  while (at !== undefined && at !== null) {
    if (pages === maxPages) throw rejected(TOO_MANY_PAGES, `list ${name} has more than ${maxPages} pages; read ${rows.length} rows so far`);
    pages += 1;
    const here: At = at;
    const page = step(`${name}/page/${pages}`, 'safe', () => fetch(here));
    rows.push(...page.items);
    at = page.next;
  }
  return rows;
}

/** How far a pull from a platform has read, kept under a storage key. Read it before the run
 * and advance it once the run has read everything it asked for: a run that fails on page 3
 * leaves it where it was. Marks compare as text (write RFC 3339 in UTC, or zero-padded
 * numbers); two runs at once cannot move it backwards. */
export class Watermark {
  since: string | undefined;

  constructor(readonly key: string) {
    const raw = storage.get(key);
    this.since = raw === undefined ? undefined : decoder.decode(raw);
  }

  /** Moves the mark to `to` if that is past where it stands; where it stands now. */
  advance(to: string): string {
    for (;;) {
      if (this.since !== undefined && this.since >= to) return this.since;
      const expected = this.since === undefined ? undefined : encoder.encode(this.since);
      if (storage.compareAndSwap(this.key, expected, encoder.encode(to))) {
        this.since = to;
        return to;
      }
      // Another run moved it meanwhile: compare with where it is now.
      this.since = new Watermark(this.key).since;
    }
  }
}
