/** Sekorm's dialect: form-encoded calls, the `{code, msg, data}` envelope and its -1 messages. */
import { AdapterError, auth, config, dates, http, Key, rejected, secret, tokens, transient, type TokenGrant } from 'weft-sdk';
import type { Item } from './stock.js';

/** The manifest's `[config]` for this adapter, defaults filled in by the host from `keys`. */
export interface Config {
  base_url: string;
  token_path: string;
  token_method: 'GET' | 'POST';
  full_sync_path: string;
  update_path: string;
  compare_path: string;
  chunk_size: number;
  utc_offset: string;
  reconcile_schedule: string;
  reconcile_day_offset: number;
  changes_retention_days: number;
}

/** The `[config]` keys, each declared once; the host checks them and fills in defaults. */
export const keys = (): Key[] => [
  Key.text('token_path', 'path of getAccessToken').default('getAccessToken'),
  Key.text('token_method', 'GET (query) or POST (form body) for getAccessToken').oneOf('GET', 'POST').default('POST'),
  Key.text('full_sync_path', 'path of pnStock').default('pnarttnumber/pnStock'),
  Key.text('update_path', 'path of updQuantity').default('stock/updQuantity'),
  Key.text('compare_path', 'path of compare').default('stock/compare'),
  Key.integer('chunk_size', 'items per request').range(1, 100_000).default(500),
  Key.text('utc_offset', 'the UTC offset that defines a day, e.g. +08:00').default('+08:00'),
  Key.text('reconcile_schedule', 'name of the reconciliation schedule').default('daily-reconcile'),
  Key.integer('reconcile_day_offset', 'newest day reconciled: -1 the day before, 0 today so far').range(-1, 0).default(-1),
  Key.integer('changes_retention_days', 'days of recorded changes kept').range(1, 3660).default(7),
];

/** The platform as the manifest configures it. */
export class Platform {
  readonly config = config<Config>();
  private readonly offset: dates.Offset;

  constructor() {
    try {
      this.offset = dates.parseOffset(this.config.utc_offset);
    } catch (e) {
      throw e instanceof AdapterError ? e.context('manifest [config] utc_offset') : e;
    }
  }

  /** A change is kept until its day falls out of the days the schedule looks back over, with a
   * day to spare for offsets. */
  changesKeptMs(): number {
    return (this.config.changes_retention_days + 2) * 86_400_000;
  }

  day(days: number): string {
    return dates.day(this.offset, days);
  }

  fetchToken(): TokenGrant {
    const fields: Array<[string, string]> = [
      ['accessToken', secret('account')],
      ['appSecret', secret('app_secret')],
    ];
    const url = http.join(this.config.base_url, this.config.token_path);
    const request = this.config.token_method === 'GET' ? http.get(`${url}?${http.formEncode(fields)}`) : http.post(url).form(fields);
    const data = check(request.send()) as Record<string, unknown> | null;
    const token = data?.accessToken;
    if (typeof token !== 'string' || !token) throw transient('getAccessToken answered code 0 without data.accessToken');
    const expires = data?.expiresIn;
    const valid = typeof expires === 'number' && Number.isInteger(expires) && expires >= 0;
    return { token, expiresInSeconds: valid ? BigInt(expires) : undefined };
  }

  /** Posts `accessToken` plus `fields` to `path`. */
  postForm(path: string, fields: Array<[string, string]>): unknown {
    const url = http.join(this.config.base_url, path);
    return tokens.with('', (token) => check(http.post(url).form([['accessToken', token], ...fields]).send()));
  }

  /** Posts `items` as the `data` JSON-array string to `path`. */
  postData(path: string, items: Item[]): unknown {
    return this.postForm(path, [['data', JSON.stringify(items)]]);
  }
}

/** An answer's data, or the error kind its code and message mean. */
function check(response: http.Response): unknown {
  response.classify('Sekorm');
  const envelope = response.json() as { code?: unknown; msg?: unknown; data?: unknown } | null;
  const code = envelope?.code;
  if (typeof code !== 'number' || !Number.isInteger(code)) {
    throw transient(`HTTP ${response.status} answer is not the expected JSON (no integer code): ${http.snippet(response.body)}`);
  }
  if (code === 0) return envelope?.data ?? null;
  const msg = typeof envelope?.msg === 'string' ? envelope.msg : '';
  switch (msg.trim().toLowerCase()) {
    case 'no permission':
      throw auth(`Sekorm: ${msg} (permission denied: token invalid or expired, or the account lacks rights)`);
    case 'system error':
      throw transient(`Sekorm: ${msg}`, String(code));
    case 'ip invalid':
      throw rejected(String(code), `Sekorm: ${msg} (this host's IP is not on Sekorm's allow-list)`);
    case 'sp already forbidden':
      throw rejected(String(code), `Sekorm: ${msg} (the service provider account is disabled)`);
    default:
      throw rejected(String(code), `Sekorm: ${msg}`);
  }
}
