/** Days and times as platforms write them, in a configured UTC offset. */
import { invalidInput } from './errors.js';

/** A UTC offset in minutes. */
export type Offset = number;

/** "+08:00" as minutes east of UTC; anything else is a manifest error naming it. */
export function parseOffset(text: string): Offset {
  const m = /^([+-])(\d\d):(\d\d)$/.exec(text);
  if (!m || Number(m[2]) > 23 || Number(m[3]) > 59) {
    throw invalidInput(`expected an offset such as "+08:00", found "${text}"`);
  }
  const minutes = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === '-' ? -minutes : minutes;
}

/** The date `days` from today in `offset`, as YYYY-MM-DD. */
export function day(offset: Offset, days = 0): string {
  const local = new Date(Date.now() + offset * 60_000);
  local.setUTCDate(local.getUTCDate() + days);
  return local.toISOString().slice(0, 10);
}

/** Milliseconds since the Unix epoch. */
export const nowMs = (): number => Date.now();

/** Throws invalid input unless `text` is a date such as 2026-11-23. */
export function checkDate(text: string): void {
  const ok = /^\d{4}-\d\d-\d\d$/.test(text) && new Date(`${text}T00:00:00Z`).toISOString().startsWith(text);
  if (!ok) throw invalidInput(`expected a date such as "2026-11-23", found "${text}"`);
}
