// The web globals the component's JavaScript engine (StarlingMonkey) gives an adapter and the
// SDK uses. Only these: the DOM library would also promise `fetch`, which an adapter may not
// use (its platform calls go through weft:adapter/http, which checks allowed_hosts).

/** UTF-8 encoding. */
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}

/** UTF-8 decoding. */
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: Uint8Array): string;
}

/** Written to the host's log as the adapter's stderr. */
declare const console: {
  log(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
};
