import { and, eq, inArray, isNull, lt, lte, min, or, sql } from 'drizzle-orm';
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

/**
 * Asks for the date's run again: pending until a run starts after it. With
 * `unlessAskedSince`, only when it was last asked before that instant (a schedule asks
 * once for a day that is over, however many processes fire). True when it asked.
 */
export function requestAgain(db: Db, date: string, now: number, unlessAskedSince?: number): boolean {
  const asked = unlessAskedSince === undefined ? undefined : lt(settlementRuns.requestedAt, unlessAskedSince);
  return (
    db
      .update(settlementRuns)
      .set({ pending: 1, requests: sql`${settlementRuns.requests} + 1`, requestedAt: now, updatedAt: now })
      .where(and(eq(settlementRuns.date, date), asked))
      .run().changes === 1
  );
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

/** Whether the run's lease is still this owner's: every write of a step checks it first. */
export function holdsRun(db: Db, date: string, owner: string): boolean {
  return (
    db
      .select({ date: settlementRuns.date })
      .from(settlementRuns)
      .where(and(eq(settlementRuns.date, date), eq(settlementRuns.leaseOwner, owner)))
      .get() !== undefined
  );
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
  /** A run starts: the requests made so far are answered by it. */
  startsRun: boolean;
}

/**
 * Writes the actor's snapshot while we hold the lease. Returns the row as written, or
 * undefined when another process took the lease.
 */
export function writeRun(db: Db, date: string, owner: string, { startsRun, ...write }: RunWrite): SettlementRunRow | undefined {
  const lease = write.leaseExpiresAt === null ? { leaseOwner: null, leaseExpiresAt: null } : { leaseExpiresAt: write.leaseExpiresAt };
  return db
    .update(settlementRuns)
    .set({ ...write, ...lease, ...(startsRun ? { pending: 0 } : {}) })
    .where(and(eq(settlementRuns.date, date), eq(settlementRuns.leaseOwner, owner)))
    .returning()
    .get();
}

/**
 * Runs no process is driving that have work: started or running under a lease that is
 * free or expired (its process died), failed and due to retry, or asked for again.
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
          eq(settlementRuns.pending, 1),
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

/** The first date ever settled here, if any: the schedule catches up on dates after it. */
export function earliestRunDate(db: Db): string | undefined {
  return db.select({ date: min(settlementRuns.date) }).from(settlementRuns).get()?.date ?? undefined;
}

export function setUnattributed(db: Db, date: string, discrepancies: string): void {
  db.update(settlementRuns).set({ unattributed: discrepancies }).where(eq(settlementRuns.date, date)).run();
}

export function releaseRun(db: Db, date: string, owner: string): void {
  db.update(settlementRuns)
    .set({ leaseOwner: null, leaseExpiresAt: null })
    .where(and(eq(settlementRuns.date, date), eq(settlementRuns.leaseOwner, owner)))
    .run();
}
