/**
 * Exponential backoff with full jitter, kept pure: the "random" draw is a hash of the
 * payment id and the attempt, so a machine stays deterministic under test and after a
 * restore, while payments that fail together still spread their retries apart.
 */
export function backoffMs(attempt: number, seed: string, baseMs: number, capMs: number): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(unitHash(`${seed}:${attempt}`) * (ceiling + 1));
}

/** FNV-1a, scaled to [0, 1). */
function unitHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) / 2 ** 32;
}
