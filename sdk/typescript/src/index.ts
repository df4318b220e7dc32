/**
 * Weft's SDK for adapters written in TypeScript.
 *
 * The types come from `wit/adapter.wit` (`jco types` generates them when the adapter is built);
 * this module is the thin layer the Rust SDK also gives: errors the host acts on, HTTP with the
 * usual status meanings, the token helper, storage with JSON, durable steps, partial success,
 * and the describe builder with its `[config]` schema.
 *
 * An adapter is a module `adapter.ts` whose `adapter` export is `defineAdapter({...})`.
 */
import type { CallContext } from 'weft:adapter/types@0.1.0';
import type {
  ConfigKey,
  ConfigType,
  Description,
  InboundRequest,
  InboundResponse,
  TokenGrant,
} from 'weft:adapter/adapter@0.1.0';
import { AdapterError, auth, invalidInput } from './errors.js';

export * from './errors.js';
export * as http from './http.js';
export * as dates from './dates.js';
export * as xml from './xml.js';
export { allPages, config, enqueue, inBatches, log, OUTCOME_UNKNOWN, report, secret, sha256, step, storage, TOO_MANY_PAGES, tokens, Watermark, type Sequence } from './host.js';
export type { CallContext, Description, InboundRequest, InboundResponse, TokenGrant };

/** One `[config]` key, declared once: type, default, bounds or choices, and what it does. The
 * host checks the manifest against it at load and fills in the default. */
export class Key {
  private readonly key: ConfigKey;

  private constructor(name: string, kind: ConfigType, description: string) {
    this.key = { name, kind, required: false, description, choices: [] };
  }

  /** A string. */
  static text = (name: string, description: string) => new Key(name, 'text', description);
  /** An integer. */
  static integer = (name: string, description: string) => new Key(name, 'integer', description);
  /** Any number. */
  static number = (name: string, description: string) => new Key(name, 'number', description);
  /** true or false. */
  static boolean = (name: string, description: string) => new Key(name, 'boolean', description);

  /** A list. */
  static list = (name: string, description: string) => new Key(name, 'array', description);
  /** A table. */
  static table = (name: string, description: string) => new Key(name, 'table', description);
  /** Anything. */
  static any = (name: string, description: string) => new Key(name, 'any', description);

  /** The least a number may be. */
  atLeast(minimum: number): this {
    this.key.minimum = minimum;
    return this;
  }
  /** The greatest a number may be. */
  atMost(maximum: number): this {
    this.key.maximum = maximum;
    return this;
  }
  /** The manifest must give it. */
  required(): this {
    this.key.required = true;
    return this;
  }
  /** The value taken when the manifest gives none. */
  default(value: unknown): this {
    this.key.default = JSON.stringify(value);
    return this;
  }
  /** The least and greatest a number may be. */
  range(minimum: number, maximum: number): this {
    this.key.minimum = minimum;
    this.key.maximum = maximum;
    return this;
  }
  /** The values a string may take. */
  oneOf(...choices: string[]): this {
    this.key.choices = choices;
    return this;
  }
  /** The WIT record the host reads. */
  toWit(): ConfigKey {
    return this.key;
  }
}

/** Who the adapter is and what a manifest may say to it (checked by the host at load). */
export function describe(d: {
  name: string;
  version: string;
  operations: Array<[string, string]>;
  secrets?: string[];
  config?: Key[];
  schedules?: string[];
  routes?: string[];
}): Description {
  return {
    name: d.name,
    version: d.version,
    operations: d.operations.map(([name, description]) => ({ name, description })),
    secrets: d.secrets ?? [],
    config: (d.config ?? []).map((k) => k.toWit()),
    schedules: d.schedules ?? [],
    routes: d.routes ?? [],
  };
}

/** What an adapter writes: its description and operations; the rest is optional. */
export interface Definition {
  /** Who the adapter is. */
  describe(): Description;
  /** Runs operation `op` on its parsed JSON `input`; returns what becomes JSON output. */
  run(ctx: CallContext, op: string, input: unknown): unknown;
  /** Fetches a token for `scope` from the platform. */
  token?(scope: string): TokenGrant;
  /** Runs the manifest schedule `name`. */
  schedule?(ctx: CallContext, name: string): void;
  /** Answers an inbound route. */
  inbound?(ctx: CallContext, req: InboundRequest): InboundResponse;
}

/** An error the SDK did not make is a bug: it traps the instance, as a Rust panic does. */
function guard<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof AdapterError) throw e;
    throw new Error(`adapter bug: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
}

/** The WIT's `adapter` export, in terms of a `Definition`. */
export function defineAdapter(def: Definition) {
  return {
    describe: () => def.describe(),
    fetchToken: (scope: string): TokenGrant =>
      guard(() => {
        if (!def.token) throw auth('this adapter has no token endpoint');
        return def.token(scope);
      }),
    invoke: (ctx: CallContext, op: string, input: string): string =>
      guard(() => {
        let value: unknown;
        try {
          value = JSON.parse(input);
        } catch (e) {
          throw invalidInput(`input is not JSON: ${e instanceof Error ? e.message : e}`);
        }
        return JSON.stringify(def.run(ctx, op, value) ?? null);
      }),
    onSchedule: (ctx: CallContext, name: string): void =>
      guard(() => {
        if (!def.schedule) throw invalidInput(`this adapter has no schedule named "${name}"`);
        def.schedule(ctx, name);
      }),
    handleInbound: (ctx: CallContext, req: InboundRequest): InboundResponse => {
      if (!def.inbound) return { status: 404, headers: [['content-type', 'text/plain']], body: new TextEncoder().encode('no such route') };
      try {
        return def.inbound(ctx, req);
      } catch (e) {
        if (!(e instanceof AdapterError)) throw e;
        // The Rust SDK's shape, so a platform sees one answer whatever the adapter's language.
        const status = { 'invalid-input': 400, rejected: e.conflict ? 409 : 422, auth: 401, transient: 503 }[e.kind];
        const error = { kind: e.kind, code: e.code ?? null, message: e.message, details: e.details };
        return { status, headers: [['content-type', 'application/json']], body: new TextEncoder().encode(JSON.stringify({ error })) };
      }
    },
  };
}

/** `value` as an object with no key outside `allowed`: the caller's typo is named, not ignored. */
export function fields(value: unknown, allowed: string[], where = 'input'): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw invalidInput(`${where}: expected an object`);
  for (const k of Object.keys(value)) {
    if (!allowed.includes(k)) throw invalidInput(`${where}: unknown field "${k}", expected one of ${allowed.join(', ')}`);
  }
  return value as Record<string, unknown>;
}
