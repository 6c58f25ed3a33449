import { eq } from 'drizzle-orm';
import type { Db } from './connection.ts';
import { webhookReceipts } from './schema.ts';

export function hasReceipt(db: Db, id: string): boolean {
  return db.select({ id: webhookReceipts.id }).from(webhookReceipts).where(eq(webhookReceipts.id, id)).get() !== undefined;
}

export function recordReceipt(db: Db, receipt: typeof webhookReceipts.$inferInsert): void {
  db.insert(webhookReceipts).values(receipt).onConflictDoNothing().run();
}
