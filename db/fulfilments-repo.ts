import { LEASE_HELD_BY_ROW, leaseLost, paymentsNotLeased, type Fence } from './lease-fence.ts';
import { jsonRows, type BatchWrite, type JsonRow, type Sql, type Tx } from './sql.ts';

const FULFILMENT_COLUMNS = { payment_id: 'text', owner: 'text', customer_id: 'text', items: 'text', created_at: 'bigint' } as const;
type FulfilmentRow = JsonRow<typeof FULFILMENT_COLUMNS>;

// SQLite reads `on conflict` after `insert … select` only when the select has a where clause: it has.
const fulfilRows = (q: Sql) => `insert into fulfilments (payment_id, customer_id, items, created_at)
  select r.payment_id, r.customer_id, r.items, r.created_at from ${jsonRows(q, 'rows', FULFILMENT_COLUMNS)}
  where ${LEASE_HELD_BY_ROW} order by r.ord
  on conflict do nothing returning payment_id as "paymentId"`;

/**
 * Writes the batch's fulfilments. A row not written was written before (a second run), or
 * its lease is gone: only those rows are looked at again, and the second kind is refused.
 */
const fulfilOrders: BatchWrite<FulfilmentRow> = async (q, rows) => {
  const written = new Set((await q.all<{ paymentId: string }>(fulfilRows(q), { rows: JSON.stringify(rows) })).map((row) => row.paymentId));
  const unwritten = rows.filter((row) => !written.has(row.payment_id));
  if (unwritten.length === 0) return new Map();
  const unleased = await paymentsNotLeased(q, unwritten);
  return new Map(
    unwritten.filter((row) => unleased.has(row.payment_id)).map((row) => [row, leaseLost({ paymentId: row.payment_id, owner: row.owner })]),
  );
};

/**
 * Hands the order over (enrolment, shipment record), with the batch's others; a second
 * run changes nothing. Fenced: the job fails with LeaseLost when another process holds
 * the payment now.
 */
export function fulfilOrder(tx: Tx, fence: Fence, customerId: string, items: string, now: number): Promise<void> {
  return tx.later(fulfilOrders, { payment_id: fence.paymentId, owner: fence.owner, customer_id: customerId, items, created_at: now });
}
