/**
 * Weft adapter for acme, made by `weft new adapter --lang typescript`: a login token (client
 * credentials), one operation that sends items in batches, and the SDK's usual reading of HTTP
 * statuses. Change what your platform does differently; `weft test
 * plugins/typescript/acme/fixtures` checks it.
 */
import {
  AdapterError, config, defineAdapter, describe, fields, http, inBatches, invalidInput, Key, secret, tokens, transient,
} from 'weft-sdk';

/** The manifest's `[config]` (`base_url` is the manifest's own key); defaults come from `describe`. */
interface Config {
  base_url: string;
  token_path: string;
  items_path: string;
  batch_size: number;
}

/** The operations: [name, what it does]. `describe` and `run` both read this table. */
const OPERATIONS: Array<[string, string]> = [['send-items', 'send input.items in batches']];

export const adapter = defineAdapter({
  describe: () =>
    describe({
      name: 'acme',
      version: '0.1.0',
      operations: OPERATIONS,
      secrets: ['client_id', 'client_secret'],
      // The `[config]` keys, each declared once: `weft check` refuses a manifest with a typo in
      // them or a value out of range, and the host fills in the defaults.
      config: [
        Key.text('token_path', 'the token endpoint').default('/oauth/token'),
        Key.text('items_path', 'where items go').default('/items'),
        Key.integer('batch_size', 'items per request').range(1, 10_000).default(100),
      ],
    }),
  token() {
    const c = config<Config>();
    const response = http
      .post(http.join(c.base_url, c.token_path))
      .form([
        ['grant_type', 'client_credentials'],
        ['client_id', secret('client_id')],
        ['client_secret', secret('client_secret')],
      ])
      .send();
    // A refused login is `auth`: the host does not retry it.
    const answer = response.classify('token').json() as { access_token?: unknown; expires_in?: unknown };
    if (typeof answer?.access_token !== 'string') throw transient('token answer without access_token');
    const expires = answer.expires_in;
    return { token: answer.access_token, expiresInSeconds: Number.isInteger(expires) ? BigInt(expires as number) : undefined };
  },
  run(_ctx, op, input) {
    if (op === 'send-items') return sendItems(input);
    throw invalidInput(`unknown operation "${op}"`);
  },
});

/**
 * Sends the items in batches of `batch_size`, each batch a durable step (`batch/1`, `batch/2`,
 * …): when the host runs the call again — after a 429, a refused token, a crash — the batches
 * the platform already took are not sent again. A failed batch says which, and how many items
 * the platform had already taken. `'unsafe'`: a batch that went out and got no answer stops the
 * call as outcome-unknown rather than risk sending its items twice; where the platform takes
 * the same items twice harmlessly (an upsert by SKU), say `'safe'`.
 */
function sendItems(input: unknown) {
  const c = config<Config>();
  const items = fields(input, ['items']).items;
  if (!Array.isArray(items) || items.length === 0) throw invalidInput('items: at least one item');
  const url = http.join(c.base_url, c.items_path);
  const accepted = inBatches('batch', items.length, c.batch_size, 'unsafe', (seq) => {
    const part = items.slice(seq.start, seq.end);
    let answer: { accepted?: unknown };
    try {
      answer = tokens.with('', (token) => {
        const response = http.post(url).header('Authorization', `Bearer ${token}`).json({ items: part }).send();
        // The platform says what it refused in `{"error": "..."}`.
        return response.classifyWith('send-items', undefined, '/error').json() as { accepted?: unknown };
      });
    } catch (e) {
      if (!(e instanceof AdapterError)) throw e;
      throw e.shiftIndexes(seq.start).context(`batch ${seq.seqId} of ${seq.seqCount}; ${seq.start} item(s) were accepted before it`);
    }
    return Number.isInteger(answer?.accepted) ? (answer.accepted as number) : part.length;
  });
  return { accepted: accepted.reduce((a, b) => a + b, 0), batches: accepted.length };
}
