import { and, eq, lt, or, sql } from 'drizzle-orm';
import type { Db } from './connection.ts';
import { locks } from './schema.ts';

/** Takes (or renews) a named lock across processes sharing the file. */
export function acquireLock(db: Db, name: string, owner: string, now: number, ttlMs: number): boolean {
  db.insert(locks).values({ name, owner, expiresAt: now + ttlMs }).onConflictDoNothing().run();
  const taken = db
    .update(locks)
    .set({ owner, expiresAt: now + ttlMs })
    .where(and(eq(locks.name, name), or(eq(locks.owner, owner), lt(locks.expiresAt, now))))
    .run();
  return taken.changes === 1;
}

export function releaseLock(db: Db, name: string, owner: string): void {
  db.update(locks)
    .set({ expiresAt: sql`0` })
    .where(and(eq(locks.name, name), eq(locks.owner, owner)))
    .run();
}
