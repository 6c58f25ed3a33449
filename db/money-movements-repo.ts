import type { moneyMovements } from './schema.ts';
import { jsonRows, type BatchWrite, type Sql, type Tx } from './sql.ts';

export type MoneyMovement = typeof moneyMovements.$inferInsert;

const MOVEMENT_COLUMNS = { payment_id: 'text', kind: 'text', amount: 'bigint', at: 'bigint' } as const;
type MovementInsert = { [K in keyof typeof MOVEMENT_COLUMNS]: (typeof MOVEMENT_COLUMNS)[K] extends 'text' ? string : number };

const recordMovementRows = (q: Sql) => `insert into money_movements (payment_id, kind, amount, at)
  select r.payment_id, r.kind, r.amount, r.at from ${jsonRows(q, 'rows', MOVEMENT_COLUMNS)} order by r.ord`;

const recordMovements: BatchWrite<MovementInsert> = async (q, rows) => {
  await q.run(recordMovementRows(q), { rows: JSON.stringify(rows) });
  return new Map();
};

/**
 * Records money the PG moved, in the transaction that commits the transition which learned
 * of it, with the batch's others.
 */
export function recordMoneyMovement(tx: Tx, movement: MoneyMovement): Promise<void> {
  return tx.later(recordMovements, { payment_id: movement.paymentId, kind: movement.kind, amount: movement.amount, at: movement.at });
}
