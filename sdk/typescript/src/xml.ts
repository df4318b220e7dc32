/** XML as JSON, as the Rust SDK reads and writes it: an element with children becomes an
 * object (repeated names become arrays), a text-only element a string; attributes, comments
 * and processing instructions are skipped. Parsing is fast-xml-parser's. */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

const parser = new XMLParser({
  ignoreAttributes: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
});

/** Reads an XML document into [root name, JSON]; a malformed one throws an Error. */
export function toJson(text: string): [string, unknown] {
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new Error(`${valid.err.msg} (line ${valid.err.line})`);
  const doc = parser.parse(text) as Record<string, unknown>;
  const [root] = Object.keys(doc);
  if (root === undefined) throw new Error('no root element');
  return [root, shape(doc[root])];
}

function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shape);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (k !== '#text') out[k] = shape(v);
    return out;
  }
  // Line breaks around a value are indentation; spaces on one line are data.
  const text = value === undefined || value === null ? '' : String(value);
  return text.includes('\n') ? text.trim() : text;
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const NAME = /^[\p{L}_][\p{L}\p{N}_.-]*$/u;

/** `value` as an XML document with root element `root`: an object's fields become elements,
 * an array repeats its element, anything else escaped text. Field names that are not XML names
 * are written as `<field name="…">`. */
export function fromJson(root: string, value: unknown): string {
  return '<?xml version="1.0" encoding="UTF-8"?>' + element(root, value);
}

function element(name: string, value: unknown): string {
  if (Array.isArray(value)) return value.map((v) => element(name, v)).join('');
  const [open, close] = NAME.test(name) ? [`<${name}>`, `</${name}>`] : [`<field name="${escape(name)}">`, '</field>'];
  let inner = '';
  if (value && typeof value === 'object') inner = Object.entries(value).map(([k, v]) => element(k, v)).join('');
  else if (typeof value === 'string') inner = escape(value);
  else if (value !== null && value !== undefined) inner = JSON.stringify(value);
  return open + inner + close;
}
