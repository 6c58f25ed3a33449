import { LEASE_HELD, requireLease, type Fence } from './lease-fence.ts';
import type { Sql } from './sql.ts';

// SQLite reads `on conflict` after `insert … select` only when the select has a where clause: it has.
const FULFIL_ORDER = `insert into fulfilments (payment_id, customer_id, items, created_at)
  select @paymentId, @customerId, @items, @createdAt where ${LEASE_HELD} on conflict do nothing`;

/**
 * Hands the order over (enrolment, shipment record); a second run changes nothing.
 * Fenced: LeaseLost when another process holds the payment now.
 */
export async function fulfilOrder(q: Sql, fence: Fence, customerId: string, items: string, now: number): Promise<void> {
  if ((await q.run(FULFIL_ORDER, { ...fence, customerId, items, createdAt: now })) === 0) await requireLease(q, fence);
}
