/** The coarse public status of API.md; each machine state carries exactly one as a tag. */
export const PUBLIC_STATUSES = [
  'processing',
  'completed',
  'rejected',
  'failed',
  'cancel_requested',
  'partially_cancelled',
  'cancelled',
  'requires_attention',
] as const;
export type PublicStatus = (typeof PUBLIC_STATUSES)[number];

/** Tag of states in which an actor waits for a timer and may be hibernated. */
export const WAITING = 'waiting';
/** Tag of states in which nothing happens until an outside event: the actor can be evicted. */
export const RESTING = 'resting';

export function publicStatusOf(snapshot: { hasTag(tag: string): boolean }): PublicStatus {
  const status = PUBLIC_STATUSES.find((s) => snapshot.hasTag(s));
  if (!status) throw new Error('payment state carries no public status tag');
  return status;
}

/** Dotted path of the active leaf state, e.g. "inquiring.waiting". */
export function statePath(value: string | object): string {
  if (typeof value === 'string') return value;
  const [key, child] = Object.entries(value)[0] as [string, string | object];
  return `${key}.${statePath(child)}`;
}
