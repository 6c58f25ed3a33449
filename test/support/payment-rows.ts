import { insertPayment, type NewPaymentRow } from '../../db/payments-repo.ts';
import type { Tx } from '../../db/sql.ts';
import { PAYMENT_MACHINE_VERSION } from '../../machines/payment.machine.ts';

/** The fields of a new payment of 30,000 KRW that the caller decides (what the host's `create` takes). */
export function newPaymentFields(id: string, at = 1) {
  return {
    id,
    idempotencyKey: `key-${id}`,
    requestFingerprint: 'f',
    customerId: 'c-1',
    partnerId: 'p-1',
    amount: 30_000,
    currency: 'KRW',
    items: '[]',
    orderName: 'o',
    billingKey: 'bk',
    metadata: null,
    createdAt: at,
    updatedAt: at,
  };
}

/**
 * Inserts a payment row of 30,000 KRW as the host would have committed it in `state`,
 * with its first transition; `row` sets the rest (snapshot, status, lease, …). Write it in
 * a group-commit job: `db.commit.run((tx) => insertPaymentRow(tx, …))`.
 */
export async function insertPaymentRow(q: Tx, id: string, state: string, row: Partial<NewPaymentRow> = {}): Promise<void> {
  const at = row.createdAt ?? 1;
  await insertPayment(
    q,
    {
      ...newPaymentFields(id, at),
      state,
      status: 'processing',
      snapshot: '{}',
      machineVersion: PAYMENT_MACHINE_VERSION,
      ...row,
    },
    { type: 'api.create', from: null, to: state, at },
  );
}
