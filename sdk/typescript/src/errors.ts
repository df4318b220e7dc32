/**
 * Adapter errors: the four kinds the host acts on. The host retries `transient`, refreshes the
 * token once on `auth`, and never retries `invalid-input` or `rejected`. Throw an
 * `AdapterError` anywhere in an operation; the SDK hands the host the WIT `adapter-error`.
 */
import type { AdapterError as WitError, Detail } from 'weft:adapter/types@0.1.0';

export type { Detail };

/** The kinds of failure, as the WIT names them. */
export type Kind = WitError['tag'];

/** Why an operation failed, as the host needs to know it. */
export class AdapterError extends Error {
  constructor(
    readonly kind: Kind,
    message: string,
    readonly code: string | undefined = undefined,
    readonly details: Detail[] = [],
    readonly conflict = false,
    readonly retryAfterMs: number | undefined = undefined,
  ) {
    super(message);
    this.payload = this.toWit();
  }

  /** The WIT variant the host reads. The bindings take a thrown error's own `payload` property
   * as an export's err value (any other error traps the instance, as a Rust panic does). */
  readonly payload: WitError;

  private toWit(): WitError {
    switch (this.kind) {
      case 'invalid-input':
        return { tag: 'invalid-input', val: { message: this.message, details: this.details } };
      case 'rejected':
        return {
          tag: 'rejected',
          val: { code: this.code ?? '', message: this.message, details: this.details, conflict: this.conflict },
        };
      case 'auth':
        return { tag: 'auth', val: this.message };
      default:
        return {
          tag: 'transient',
          val: {
            message: this.message,
            code: this.code,
            retryAfterMs: this.retryAfterMs === undefined ? undefined : BigInt(this.retryAfterMs),
          },
        };
    }
  }


  /** The same error with `prefix: ` before its message (which request of several it was). */
  context(prefix: string): AdapterError {
    return this.with({ message: `${prefix}: ${this.message}` });
  }

  /** Every detail's row index moved by `offset`: a chunk's details as the caller's indexes. */
  shiftIndexes(offset: number): AdapterError {
    const details = this.details.map((d) =>
      d.index === undefined ? d : { ...d, index: Math.min(d.index + offset, 2 ** 32 - 1) },
    );
    return this.with({ details });
  }

  /** Adds per-row details. */
  withDetails(more: Detail[]): AdapterError {
    return this.with({ details: [...this.details, ...more] });
  }

  /** The SDK's error for a WIT variant (a recorded step's failure, a token fetch's). */
  static fromWit(e: WitError): AdapterError {
    switch (e.tag) {
      case 'invalid-input':
        return new AdapterError('invalid-input', e.val.message, undefined, e.val.details);
      case 'rejected':
        return new AdapterError('rejected', e.val.message, e.val.code, e.val.details, e.val.conflict);
      case 'auth':
        return new AdapterError('auth', e.val);
      default: {
        const wait = e.val.retryAfterMs;
        return new AdapterError('transient', e.val.message, e.val.code, [], false, wait === undefined ? undefined : Number(wait));
      }
    }
  }

  override toString(): string {
    return this.kind === 'rejected' ? `rejected (${this.code}): ${this.message}` : `${this.kind}: ${this.message}`;
  }

  private with(change: { message?: string; details?: Detail[] }): AdapterError {
    return new AdapterError(
      this.kind,
      change.message ?? this.message,
      this.code,
      change.details ?? this.details,
      this.conflict,
      this.retryAfterMs,
    );
  }
}

/** The caller's input is wrong; nothing was sent. */
export const invalidInput = (message: string, details: Detail[] = []) =>
  new AdapterError('invalid-input', message, undefined, details);
/** The platform said no, with its code and message. */
export const rejected = (code: string, message: string, conflict = false) =>
  new AdapterError('rejected', message, code, [], conflict);
/** The token or the credentials were refused. */
export const auth = (message: string) => new AdapterError('auth', message);
/** A failure worth retrying later. */
export const transient = (message: string, code?: string, retryAfterMs?: number) =>
  new AdapterError('transient', message, code, [], false, retryAfterMs);

/** A problem with the row at `index` of the caller's input. */
export function detail(index: number | undefined, field: string | undefined, code: string | undefined, message: string): Detail {
  return { index, field, code, message };
}

/** Invalid input listing every problem in the caller's `list`, summarised by the first;
 * undefined when there is none. */
export function invalidRows(list: string, problems: Detail[]): AdapterError | undefined {
  const first = problems[0];
  if (!first) return undefined;
  const where = first.field ? `.${first.field}` : '';
  return invalidInput(
    `${problems.length} problem(s) in ${list}, first: ${list}[${first.index ?? 0}]${where}: ${first.message}`,
    problems,
  );
}
