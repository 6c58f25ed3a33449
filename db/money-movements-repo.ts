import type { moneyMovements } from './schema.ts';
import type { Sql } from './sql.ts';

export type MoneyMovement = typeof moneyMovements.$inferInsert;

const RECORD_MOVEMENT = 'insert into money_movements (payment_id, kind, amount, at) values (@paymentId, @kind, @amount, @at)';

/**
 * Runs in the caller's transaction: the one that commits the transition which learned of
 * it. A plain statement, compiled once per connection: drizzle's insert builder compiled
 * the SQL on every charge (4 % of the clean path's CPU).
 */
export async function recordMoneyMovement(q: Sql, movement: MoneyMovement): Promise<void> {
  await q.run(RECORD_MOVEMENT, { paymentId: movement.paymentId, kind: movement.kind, amount: movement.amount, at: movement.at });
}
