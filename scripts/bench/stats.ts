/** Nearest-rank percentile (p in 0–100) of unsorted samples; NaN when there are none. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** `count` per second over `ms` milliseconds. */
export function perSecond(count: number, ms: number): number {
  return ms > 0 ? count / (ms / 1000) : Number.NaN;
}

/** Rounds for the report: whole numbers above 100, one decimal below. */
export function round(value: number): number {
  return Math.abs(value) >= 100 ? Math.round(value) : Math.round(value * 10) / 10;
}
