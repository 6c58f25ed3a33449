import type { moneyMovements } from './schema.ts';
import { insertEvery, jsonRows, type JsonRow, type Sql, type Tx } from './sql.ts';

export type MoneyMovement = typeof moneyMovements.$inferInsert;

const MOVEMENT_COLUMNS = { payment_id: 'text', kind: 'text', amount: 'bigint', at: 'bigint' } as const;

const recordMovementRows = (q: Sql) => `insert into money_movements (payment_id, kind, amount, at)
  select r.payment_id, r.kind, r.amount, r.at from ${jsonRows(q, 'rows', MOVEMENT_COLUMNS)} order by r.ord`;

const recordMovements = insertEvery<JsonRow<typeof MOVEMENT_COLUMNS>>(recordMovementRows);

/**
 * Records money the PG moved, in the transaction that commits the transition which learned
 * of it, with the batch's others.
 */
export function recordMoneyMovement(tx: Tx, movement: MoneyMovement): Promise<void> {
  return tx.later(recordMovements, { payment_id: movement.paymentId, kind: movement.kind, amount: movement.amount, at: movement.at });
}
