import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, fingerprint } from '../../src/payments/fingerprint.ts';
import { seededRandom } from '../../src/seeded-random.ts';

/** The recursive version that stored fingerprints were made with: the new one must agree with it. */
function recursiveCanonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(recursiveCanonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${recursiveCanonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A JSON-like value with objects (some properties undefined), arrays and every primitive. */
function randomValue(random: () => number, depth: number): unknown {
  const pick = Math.floor(random() * (depth > 4 ? 6 : 8));
  const word = () => ['a', 'B', 'zz', '10', '9', '', 'é', '한글', '"q"', 'line\nbreak', '__proto__x'][Math.floor(random() * 11)]!;
  switch (pick) {
    case 0:
      return null;
    case 1:
      return random() < 0.5;
    case 2:
      return [0, -0, 1.5, -7, 1e21, 2 ** 53, 0.1][Math.floor(random() * 7)];
    case 3:
      return word();
    case 4:
      return undefined;
    case 5:
      return `${word()}${Math.floor(random() * 1000)}`;
    case 6:
      return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: Math.floor(random() * 5) }, () => [word(), randomValue(random, depth + 1)]));
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('canonicalJson', () => {
  const payment = {
    customerId: 'c-1',
    items: [{ quantity: 2, productId: 'book-1' }],
    billingKey: 'bk_test_ok',
    orderName: undefined,
    metadata: { z: [1, { b: null, a: 'x' }], a: { nested: { deeper: true } }, skipped: undefined },
  };

  it('writes what the recursive version wrote', () => {
    const fixed: unknown[] = [payment, { reason: 'changed my mind', amount: undefined }, {}, [], [[]], { '': 0 }, 'text', 12, null, true];
    const random = seededRandom(42);
    const generated = Array.from({ length: 500 }, () => ({ top: randomValue(random, 0) }));
    for (const value of [...fixed, ...generated]) {
      expect(canonicalJson(value)).toBe(recursiveCanonicalJson(value));
    }
  });

  it('keeps the fingerprints already stored', () => {
    expect(fingerprint(payment)).toBe(sha256(recursiveCanonicalJson(payment)));
  });

  it('sorts keys and drops undefined properties', () => {
    expect(canonicalJson({ b: 1, a: [{ d: undefined, c: 2 }] })).toBe('{"a":[{"c":2}],"b":1}');
  });

  it('does not overflow the stack on a 100,000-deep value', () => {
    let objects: unknown = 'bottom';
    let arrays: unknown = [];
    for (let level = 0; level < 100_000; level++) {
      objects = { a: objects };
      arrays = [arrays];
    }
    expect(() => fingerprint({ objects, arrays })).not.toThrow();
    expect(canonicalJson(objects).length).toBe('{"a":'.length * 100_000 + '"bottom"'.length + 100_000);
  });
});
