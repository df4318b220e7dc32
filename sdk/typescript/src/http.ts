/** Outbound HTTP through the host (which checks `allowed_hosts`, applies limits and redacts),
 * and the usual meaning of a platform's status. */
import { send } from 'weft:adapter/http@0.1.0';
import type { HttpError, Method } from 'weft:adapter/http@0.1.0';
import { AdapterError, auth, invalidInput, rejected, transient } from './errors.js';
import { failure } from './host.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** At most 200 characters of a body, for error messages. */
export function snippet(body: Uint8Array | string): string {
  const text = typeof body === 'string' ? body : decoder.decode(body);
  const chars = [...text];
  return chars.length > 200 ? chars.slice(0, 200).join('') + '…' : text;
}

/** `application/x-www-form-urlencoded` as the Rust SDK writes it (WHATWG's set). */
export function formEncode(fields: Array<[string, string]>): string {
  const enc = (s: string) =>
    encodeURIComponent(s)
      .replace(/%20/g, '+')
      .replace(/[!'()~]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  return fields.map(([n, v]) => `${enc(n)}=${enc(v)}`).join('&');
}

/** `base` and `path` with exactly one slash between them. */
export function join(base: string, path: string): string {
  return base.replace(/\/+$/, '') + '/' + path.replace(/^\/+/, '');
}

/** A send that got no answer: worth a retry, except a denied host or a malformed request. */
export function httpError(e: HttpError): AdapterError {
  switch (e.tag) {
    case 'denied':
      return rejected('denied', e.val);
    case 'invalid-request':
      return invalidInput(e.val);
    case 'too-large':
      return rejected('too-large', e.val);
    case 'timeout':
      return transient(e.val, 'timeout');
    default:
      return transient(e.val, 'connect');
  }
}

/** A platform's answer, whatever its status. */
export class Response {
  constructor(
    readonly status: number,
    readonly headers: Array<[string, string]>,
    readonly body: Uint8Array,
  ) {}

  /** The first header called `name`, case-insensitively. */
  header(name: string): string | undefined {
    return this.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
  }

  /** The body as text. */
  text(): string {
    return decoder.decode(this.body);
  }

  /** The body as JSON; a body that is not JSON (a proxy's page, a cut answer) is transient. */
  json(): unknown {
    try {
      return JSON.parse(this.text());
    } catch (e) {
      throw transient(`HTTP ${this.status} answer is not the expected JSON (${e}): ${snippet(this.body)}`);
    }
  }

  /** The wait `Retry-After` asks for: seconds, or an HTTP date counted from now. */
  retryAfterMs(): number | undefined {
    const value = (this.header('retry-after') ?? '').trim();
    if (/^\d+$/.test(value)) return Number(value) * 1000;
    const at = Date.parse(value);
    return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
  }

  /** 2xx is the answer; 401 and 403 auth; 429 and 5xx transient (honouring Retry-After); any
   * other status rejected with the status as its code. Check the platform's exceptions first. */
  classify(what: string): this {
    return this.judge(what, undefined, snippet(this.body));
  }

  /** `classify`, reading the platform's code and message from an error's JSON body at the
   * given JSON pointers (`/error/code`). */
  classifyWith(what: string, codeAt: string | undefined, messageAt: string): this {
    if (this.status >= 200 && this.status < 300) return this;
    let parsed: unknown;
    try {
      parsed = JSON.parse(this.text());
    } catch {
      parsed = undefined;
    }
    const read = (pointer: string | undefined): string | undefined => {
      if (pointer === undefined) return undefined;
      let node: unknown = parsed;
      for (const part of pointer.replace(/^\//, '').split('/')) {
        if (node && typeof node === 'object') node = (node as Record<string, unknown>)[part];
        else return undefined;
      }
      if (typeof node === 'number' || (typeof node === 'string' && node)) return String(node);
      return undefined;
    };
    const said = read(messageAt);
    return this.judge(what, read(codeAt), said ? snippet(said) : snippet(this.body));
  }

  private judge(what: string, code: string | undefined, said: string): this {
    const s = this.status;
    const message = code ? `${what}: HTTP ${s}: ${code}: ${said}` : `${what}: HTTP ${s}: ${said}`;
    if (s >= 200 && s < 300) return this;
    if (s === 401 || s === 403) throw auth(message);
    if (s === 429 || (s >= 500 && s < 600)) throw transient(message, code ?? String(s), this.retryAfterMs());
    throw rejected(code ?? String(s), message);
  }
}

/** An outbound request, built a piece at a time. */
export class Request {
  headers: Array<[string, string]> = [];
  body: Uint8Array = new Uint8Array();
  timeoutMs: number | undefined;

  constructor(
    readonly method: Method,
    public url: string,
  ) {}

  /** Appends `params` to the URL's query. */
  query(params: Array<[string, string]>): this {
    this.url += (this.url.includes('?') ? '&' : '?') + formEncode(params);
    return this;
  }

  /** Adds a header. */
  header(name: string, value: string): this {
    this.headers.push([name, value]);
    return this;
  }

  /** A JSON body. */
  json(value: unknown): this {
    this.body = encoder.encode(JSON.stringify(value));
    return this.header('content-type', 'application/json');
  }

  /** A form body. */
  form(fields: Array<[string, string]>): this {
    this.body = encoder.encode(formEncode(fields));
    return this.header('content-type', 'application/x-www-form-urlencoded');
  }

  /** Sends it through the host; no answer throws the matching `AdapterError`. */
  send(): Response {
    try {
      const r = send({ method: this.method, url: this.url, headers: this.headers, body: this.body, timeoutMs: this.timeoutMs });
      return new Response(r.status, r.headers, r.body);
    } catch (e) {
      throw httpError(failure<HttpError>(e));
    }
  }
}

/** A GET request. */
export const get = (url: string) => new Request('get', url);
/** A POST request. */
export const post = (url: string) => new Request('post', url);
