import { and, eq, inArray, isNull, lt, lte, or, sql } from 'drizzle-orm';
import type { SettlementStatus } from '../machines/settlement.machine.ts';
import type { Db } from './connection.ts';
import { settlementRuns } from './schema.ts';

export type SettlementRunRow = typeof settlementRuns.$inferSelect;

/** Returns false when the date already has a run. */
export function insertRun(db: Db, run: SettlementRunRow): boolean {
  return db.insert(settlementRuns).values(run).onConflictDoNothing().run().changes === 1;
}

export function findRun(db: Db, date: string): SettlementRunRow | undefined {
  return db.select().from(settlementRuns).where(eq(settlementRuns.date, date)).get();
}

export function countRequest(db: Db, date: string, now: number): void {
  db.update(settlementRuns)
    .set({ requests: sql`${settlementRuns.requests} + 1`, updatedAt: now })
    .where(eq(settlementRuns.date, date))
    .run();
}

const leaseFree = (owner: string, now: number) =>
  or(isNull(settlementRuns.leaseOwner), eq(settlementRuns.leaseOwner, owner), lt(settlementRuns.leaseExpiresAt, now));

/** Takes the run's lease (free, expired, or ours already): only its holder drives the actor. */
export function claimRun(db: Db, date: string, owner: string, now: number, ttlMs: number): SettlementRunRow | undefined {
  return db
    .update(settlementRuns)
    .set({ leaseOwner: owner, leaseExpiresAt: now + ttlMs })
    .where(and(eq(settlementRuns.date, date), leaseFree(owner, now)))
    .returning()
    .get();
}

export interface RunWrite {
  state: string;
  status: SettlementStatus;
  snapshot: string;
  machineVersion: number;
  dueAt: number | null;
  updatedAt: number;
  /** Null once the actor rests or waits: any process may then take the run up. */
  leaseExpiresAt: number | null;
}

/** Writes the actor's snapshot while we hold the lease; false when another process took it. */
export function writeRun(db: Db, date: string, owner: string, write: RunWrite): boolean {
  const lease = write.leaseExpiresAt === null ? { leaseOwner: null, leaseExpiresAt: null } : { leaseExpiresAt: write.leaseExpiresAt };
  return (
    db
      .update(settlementRuns)
      .set({ ...write, ...lease })
      .where(and(eq(settlementRuns.date, date), eq(settlementRuns.leaseOwner, owner)))
      .run().changes === 1
  );
}

/**
 * Runs no process is driving: started or running under a lease that is free or expired
 * (its process died), or failed and due to retry.
 */
export function runsToResume(db: Db, owner: string, now: number): string[] {
  return db
    .select({ date: settlementRuns.date })
    .from(settlementRuns)
    .where(
      and(
        leaseFree(owner, now),
        or(
          inArray(settlementRuns.status, ['requested', 'processing']),
          and(eq(settlementRuns.status, 'failed'), lte(settlementRuns.dueAt, now)),
        ),
      ),
    )
    .all()
    .map((row) => row.date);
}

export function renewRunLeases(db: Db, dates: readonly string[], owner: string, until: number): void {
  if (dates.length === 0) return;
  db.update(settlementRuns)
    .set({ leaseExpiresAt: until })
    .where(and(inArray(settlementRuns.date, [...dates]), eq(settlementRuns.leaseOwner, owner)))
    .run();
}

export function hasAnyRun(db: Db): boolean {
  return db.select({ date: settlementRuns.date }).from(settlementRuns).limit(1).get() !== undefined;
}
