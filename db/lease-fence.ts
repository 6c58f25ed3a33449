import { jsonRows, type Sql } from './sql.ts';

// Rule 8: a payment's step writes only while this process holds the payment's lease. A
// process paused past its lease while another took the payment over must not reserve,
// release, fulfil or mark a call behind the new owner's back.

export class LeaseLost extends Error {
  override name = 'LeaseLost';
  /** Another process runs the payment now; this one's step resumes there (DESIGN: transient). */
  readonly retryable = true;
}

/** The payment whose lease `owner` must hold for a step's write. */
export interface Fence {
  paymentId: string;
  owner: string;
}

/**
 * True while the fence holds: a condition inside a step's own statement (parameters
 * `@paymentId`, `@owner`), so that the check costs no statement of its own, and no round
 * trip on PostgreSQL.
 */
export const LEASE_HELD = 'exists (select 1 from payments where id = @paymentId and lease_owner = @owner)';

export function leaseLost({ paymentId, owner }: Fence): LeaseLost {
  return new LeaseLost(`lease of ${paymentId} is not held by ${owner}`);
}

/**
 * Throws LeaseLost unless the fence holds: on its own, or after a fenced statement changed
 * nothing, to tell a lost lease from a step that had nothing left to do.
 */
export async function requireLease(q: Sql, fence: Fence): Promise<void> {
  if ((await q.get(`select 1 as held where ${LEASE_HELD}`, { ...fence })) === undefined) throw leaseLost(fence);
}

/** The row's payment is leased to the row's owner: LEASE_HELD per row of a batch write's `r` (columns payment_id, owner). */
export const LEASE_HELD_BY_ROW = 'exists (select 1 from payments where id = r.payment_id and lease_owner = r.owner)';

/**
 * The payments of `rows` whose lease the row's owner does not hold: a batch write asks
 * after its statement changed nothing for them, to tell a lost lease from a row with
 * nothing left to do.
 */
export async function paymentsNotLeased(q: Sql, rows: Array<{ payment_id: string; owner: string }>): Promise<Set<string>> {
  const unleased = await q.all<{ paymentId: string }>(
    `select r.payment_id as "paymentId" from ${jsonRows(q, 'rows', { payment_id: 'text', owner: 'text' })} where not ${LEASE_HELD_BY_ROW}`,
    { rows: JSON.stringify(rows) },
  );
  return new Set(unleased.map((row) => row.paymentId));
}
