import { randomFillSync } from 'node:crypto';

// Entropy is fetched in bulk: one randomBytes call per id cost more than the rest of the id.
const entropy = Buffer.alloc(8 * 512);
let entropyUsed = entropy.length;

/** Time-ordered ids with 64 random bits (`pay_…`, `evt_…`): newer ones sort after older ones. */
export function timeOrderedId(prefix: string, now: number): string {
  if (entropyUsed === entropy.length) {
    randomFillSync(entropy);
    entropyUsed = 0;
  }
  entropyUsed += 8;
  return `${prefix}${now.toString(36).padStart(9, '0')}${entropy.toString('hex', entropyUsed - 8, entropyUsed)}`;
}
