/** Stock items and the document's limits on them, checked before anything is sent. */
import { detail, invalidInput, invalidRows, type Detail } from 'weft-sdk';

/** Longest pnCode and brandName the document allows. */
const MAX_LEN = 50;
const FIELDS = ['pnCode', 'brandName', 'stockQuantity'];

/** One stock line as the platform expects it. */
export interface Item {
  pnCode: string;
  brandName: string;
  stockQuantity: number;
}

type Problems = Array<[string | undefined, string]>;

/** Every item checked against the document; all problems at once, each with its index. */
export function validateItems(items: unknown): Item[] {
  if (!Array.isArray(items)) throw invalidInput('input: items: expected a list of items');
  if (items.length === 0) throw invalidInput('items: at least one item is required');
  const problems: Detail[] = [];
  const valid: Item[] = [];
  items.forEach((raw, i) => {
    const found: Problems = [];
    const item = validateItem(raw, found);
    if (found.length) problems.push(...found.map(([f, m]) => detail(i, f, undefined, m)));
    else valid.push(item as Item);
  });
  const e = invalidRows('items', problems);
  if (e) throw e;
  return valid;
}

function validateItem(raw: unknown, problems: Problems): Item | undefined {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push([undefined, 'expected an object with pnCode, brandName and stockQuantity']);
    return undefined;
  }
  const obj = raw as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!FIELDS.includes(key)) problems.push([undefined, `unknown field "${key}"`]);
  }
  const pnCode = text(obj, 'pnCode', problems);
  const brandName = text(obj, 'brandName', problems);
  const q = obj.stockQuantity;
  if (!('stockQuantity' in obj)) problems.push(['stockQuantity', 'is required']);
  else if (typeof q !== 'number' || !Number.isInteger(q) || !Number.isSafeInteger(q) || String(q).includes('.'))
    problems.push(['stockQuantity', `expected an integer, found ${JSON.stringify(q)}`]);
  else if (q < 0 || q > 2_147_483_647) problems.push(['stockQuantity', `expected 0..=2147483647, found ${q}`]);
  return { pnCode: pnCode ?? '', brandName: brandName ?? '', stockQuantity: q as number };
}

function text(obj: Record<string, unknown>, field: string, problems: Problems): string | undefined {
  const value = obj[field];
  if (!(field in obj)) problems.push([field, 'is required']);
  else if (typeof value !== 'string') problems.push([field, `expected a string, found ${JSON.stringify(value)}`]);
  else if (!value.trim()) problems.push([field, 'must not be empty']);
  else if ([...value].length > MAX_LEN) problems.push([field, `at most ${MAX_LEN} characters, found ${[...value].length}`]);
  // eslint-disable-next-line no-control-regex
  else if (/[\u0000-\u001f\u007f-\u009f]/.test(value)) problems.push([field, 'must not contain control characters']);
  else return value;
  return undefined;
}
