import type { Db } from './connection.ts';
import { moneyMovements } from './schema.ts';

export type MoneyMovement = typeof moneyMovements.$inferInsert;

/** Runs in the caller's transaction: the one that commits the transition which learned of it. */
export function recordMoneyMovement(db: Db, movement: MoneyMovement): void {
  db.insert(moneyMovements).values(movement).run();
}
