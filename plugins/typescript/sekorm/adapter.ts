/**
 * Weft adapter for Sekorm serviceGate stock synchronisation, in TypeScript: the Rust Sekorm's
 * behaviour, line for line where the platform's dialect is concerned.
 *
 * Every call is a form-encoded POST carrying `accessToken`; answers are
 * `{"code": 0 | -1, "msg": …, "data": …}`. The token comes from `getAccessToken` and is cached
 * by the host for its `expiresIn`.
 */
import {
  AdapterError, dates, defineAdapter, describe, detail, fields, invalidInput, invalidRows, log, report, storage,
  type CallContext, type Detail,
} from 'weft-sdk';
import { keys, Platform } from './dialect.js';
import { validateItems, type Item } from './stock.js';

/** Key prefix of the day's recorded quantity changes, followed by `YYYY-MM-DD/`. */
const CHANGES = 'changes/';
/** Key of the last day the schedule reconciled. */
const RECONCILED = 'reconciled/last';
/** After `changes/DAY/`: the items of one full-sync request (a brand name cannot hold U+001F). */
const FULL = '\u001ffull/';
/** Items per recorded full-sync piece (a piece is one storage value). */
const RECORD_PIECE = 1000;

export const adapter = defineAdapter({
  describe: () =>
    describe({
      name: 'sekorm',
      version: '0.1.0',
      operations: [
        ['full-sync', 'send the whole stock (pnStock), in chunks of config.chunk_size'],
        ['update-quantity', "send one item's new quantity in real time (updQuantity) and record it for the day's reconciliation"],
        ['reconcile', "send the day's changed items for comparison (compare)"],
      ],
      secrets: ['account', 'app_secret'],
      config: keys(),
      schedules: ['daily-reconcile'],
    }),
  token: () => new Platform().fetchToken(),
  run(ctx, op, input) {
    const platform = new Platform();
    switch (op) {
      case 'full-sync':
        return fullSync(ctx, platform, input);
      case 'update-quantity':
        return updateQuantity(platform, input);
      case 'reconcile':
        return reconcile(platform, input);
      default:
        throw invalidInput(`unknown operation "${op}"`);
    }
  },
  schedule(_ctx, name) {
    const platform = new Platform();
    const mine = platform.config.reconcile_schedule;
    if (name !== mine) throw invalidInput(`unknown schedule "${name}" (this adapter runs "${mine}")`);
    reconcileDueDays(platform);
  },
});

/** The same pnCode and brandName twice in one request is refused, naming both indexes. */
function refuseDuplicates(items: Item[]): void {
  const first = new Map<string, number>();
  const problems: Detail[] = [];
  items.forEach((item, j) => {
    const key = `${item.brandName}\u001f${item.pnCode}`;
    const i = first.get(key);
    if (i === undefined) first.set(key, j);
    else
      problems.push(detail(j, 'pnCode', undefined,
        `repeats items[${i}] (pnCode "${item.pnCode}", brandName "${item.brandName}"): send each item once`));
  });
  const e = invalidRows('items', problems);
  if (e) throw e;
}

/** Sends `items` in requests of chunk_size; a failure names its request, the caller's indexes
 * of its items, and what the platform already applied. */
function sendInChunks(platform: Platform, path: string, items: Item[], sent?: (n: number, part: Item[]) => void): number {
  const size = platform.config.chunk_size;
  const count = Math.ceil(items.length / size);
  for (let n = 0; n < count; n++) {
    const offset = n * size;
    const part = items.slice(offset, offset + size);
    try {
      platform.postData(path, part);
    } catch (e) {
      if (!(e instanceof AdapterError)) throw e;
      throw e.shiftIndexes(offset).context(
        `request ${n + 1} of ${count} (items ${offset} to ${offset + part.length - 1}) failed; ` +
          `the platform already applied ${n} request(s), ${offset} item(s)`,
      );
    }
    sent?.(n, part);
  }
  return count;
}

function fullSync(ctx: CallContext, platform: Platform, input: unknown) {
  const given = fields(input, ['items']);
  if (!('items' in given)) throw invalidInput('input: missing field `items`');
  const items = validateItems(given.items);
  refuseDuplicates(items);
  const day = platform.day(0);
  const chunks = sendInChunks(platform, platform.config.full_sync_path, items, (n, part) => {
    // What full-sync set counts as the day's change too; keeping the record is not worth
    // failing a call whose items the platform already took.
    for (let k = 0; k < part.length; k += RECORD_PIECE) {
      const key = `${CHANGES}${day}/${FULL}${ctx.callId}/${String(n).padStart(6, '0')}-${String(k / RECORD_PIECE).padStart(3, '0')}`;
      try {
        storage.setJsonExpiring(key, { at_ms: dates.nowMs(), items: part.slice(k, k + RECORD_PIECE) }, platform.changesKeptMs());
      } catch (e) {
        log('warn', "full-sync items not recorded for the day's reconciliation", { error: String(e) });
      }
    }
  });
  // The platform takes a request whole or refuses it whole: a success is every item taken.
  report(items.length);
  return { items: items.length, chunks, chunk_size: platform.config.chunk_size };
}

function updateQuantity(platform: Platform, input: unknown) {
  const [item] = validateItems([input]) as [Item];
  platform.postForm(platform.config.update_path, [
    ['pnCode', item.pnCode],
    ['brandName', item.brandName],
    ['stockQuantity', String(item.stockQuantity)],
  ]);
  const day = platform.day(0);
  storage.setJsonExpiring(changeKey(day, item), { ...item, at_ms: dates.nowMs() }, platform.changesKeptMs());
  return { updated: item, recorded_for: day };
}

/** Every change recorded for `date` (update-quantity and full-sync), the last of each item. */
function dayChanges(date: string): Item[] {
  const prefix = `${CHANGES}${date}/`;
  const last = new Map<string, [number, Item]>();
  const keep = (atMs: number, item: Item) => {
    const key = `${item.brandName}\u001f${item.pnCode}`;
    const seen = last.get(key);
    if (!seen || seen[0] <= atMs)
      last.set(key, [atMs, { pnCode: item.pnCode, brandName: item.brandName, stockQuantity: item.stockQuantity }]);
  };
  for (const key of storage.listAll(prefix)) {
    if (key.slice(prefix.length).startsWith(FULL)) {
      const piece = storage.getJson<{ at_ms: number; items: Item[] }>(key);
      if (piece) for (const item of piece.items) keep(piece.at_ms, item);
    } else {
      const r = storage.getJson<Item & { at_ms?: number }>(key);
      if (r) keep(r.at_ms ?? 0, r);
    }
  }
  // In (brandName, pnCode) order, as the Rust Sekorm sends them.
  return [...last.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, [, item]]) => item);
}

function reconcile(platform: Platform, input: unknown) {
  const given = fields(input, ['date', 'items']);
  let date = given.date;
  if (date === undefined || date === null) date = platform.day(0);
  else if (typeof date !== 'string') throw invalidInput('date: expected a date such as "2026-11-23"');
  else {
    try {
      dates.checkDate(date);
    } catch (e) {
      throw e instanceof AdapterError ? e.context('date') : e;
    }
  }
  let items: Item[];
  if (given.items !== undefined && given.items !== null) {
    items = validateItems(given.items);
    refuseDuplicates(items);
  } else {
    items = dayChanges(date as string);
  }
  if (items.length === 0) return { date, items: 0, sent: false, requests: 0 };
  let requests: number;
  try {
    requests = sendInChunks(platform, platform.config.compare_path, items);
  } catch (e) {
    throw e instanceof AdapterError ? e.context(`reconciliation of ${date}`) : e;
  }
  return { date, items: items.length, sent: true, requests };
}

/** Every complete day not reconciled yet, oldest first, as far back as changes are kept: a day
 * missed while Weft was down is caught up; a failure leaves the rest for the next try. */
function reconcileDueDays(platform: Platform): void {
  const last = storage.getJson<string>(RECONCILED);
  const newest = Math.min(platform.config.reconcile_day_offset, 0);
  for (let offset = -platform.config.changes_retention_days; offset <= newest; offset++) {
    const day = platform.day(offset);
    if (last !== undefined && day <= last) continue;
    const out = reconcile(platform, { date: day });
    if (out.sent) log('info', 'daily reconciliation sent', { date: day, items: out.items });
    storage.setJson(RECONCILED, day);
  }
}

/** The unit separator cannot appear in a validated brand name, so keys never collide. */
function changeKey(day: string, item: Item): string {
  return `${CHANGES}${day}/${item.brandName}\u001f${item.pnCode}`;
}
