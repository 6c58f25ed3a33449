import { eq } from 'drizzle-orm';
import type { Db } from './connection.ts';
import { partners } from './schema.ts';

export type Partner = typeof partners.$inferSelect;

/** Returns false when the id is taken. */
export function insertPartner(db: Db, partner: Partner): boolean {
  return db.insert(partners).values(partner).onConflictDoNothing().run().changes === 1;
}

export function findPartner(db: Db, id: string): Partner | undefined {
  return db.select().from(partners).where(eq(partners.id, id)).get();
}

/** Returns the partner as changed, or undefined when there is none. */
export function updatePartner(
  db: Db,
  id: string,
  changes: { name?: string | undefined; feeRateBps?: number | undefined },
  now: number,
): Partner | undefined {
  return db
    .update(partners)
    .set({ ...(changes.name === undefined ? {} : { name: changes.name }), ...(changes.feeRateBps === undefined ? {} : { feeRateBps: changes.feeRateBps }), updatedAt: now })
    .where(eq(partners.id, id))
    .returning()
    .get();
}

export function listPartners(db: Db): Partner[] {
  return db.select().from(partners).orderBy(partners.id).all();
}
