import { createHash } from 'node:crypto';

/** Same request, same fingerprint: key order and the client's formatting do not matter. */
export function fingerprint(request: unknown): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

/** Text written as it is, told apart from a value still to be written (which may be a string). */
class Verbatim {
  constructor(readonly text: string) {}
}

/**
 * JSON with object keys sorted and undefined properties dropped. Written with an explicit
 * stack rather than recursion, so no nesting depth can overflow the call stack.
 */
export function canonicalJson(value: unknown): string {
  const parts: string[] = [];
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (next instanceof Verbatim) {
      parts.push(next.text);
      continue;
    }
    const pieces = piecesOf(next);
    // The stack pops last-in first: pushed in reverse, the pieces come out in order.
    for (let i = pieces.length - 1; i >= 0; i--) pending.push(pieces[i]);
  }
  return parts.join('');
}

/** One level of a value: its brackets, separators and keys as Verbatim, its children as values. */
function piecesOf(value: unknown): unknown[] {
  if (Array.isArray(value)) {
    return [new Verbatim('['), ...value.flatMap((item, i) => (i === 0 ? [item] : [new Verbatim(','), item])), new Verbatim(']')];
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const members = entries.flatMap(([k, v], i) => [new Verbatim(`${i === 0 ? '' : ','}${JSON.stringify(k)}:`), v]);
    return [new Verbatim('{'), ...members, new Verbatim('}')];
  }
  // What JSON.stringify leaves out (undefined in an array) becomes nothing, as it always did.
  return [new Verbatim(JSON.stringify(value) ?? '')];
}
