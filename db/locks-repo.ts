import type { Sql } from './sql.ts';

/** Takes (or renews) a named lock across processes sharing the file. */
export async function acquireLock(q: Sql, name: string, owner: string, now: number, ttlMs: number): Promise<boolean> {
  const params = { name, owner, now, expiresAt: now + ttlMs };
  await q.run('insert into locks (name, owner, expires_at) values (@name, @owner, @expiresAt) on conflict do nothing', params);
  const taken = await q.run(
    'update locks set owner = @owner, expires_at = @expiresAt where name = @name and (owner = @owner or expires_at < @now)',
    params,
  );
  return taken === 1;
}

export async function releaseLock(q: Sql, name: string, owner: string): Promise<void> {
  await q.run('update locks set expires_at = 0 where name = @name and owner = @owner', { name, owner });
}

/**
 * PostgreSQL's advisory locks, by what they guard: their keys side by side, so that two
 * never share one.
 */
export const ADVISORY_LOCKS = {
  /** Held while migrating: processes that start together apply each migration once. */
  migrations: 7_261_001,
  /** One webhook fan-out at a time across processes (see fanOut). */
  fanOut: 7_261_002,
  /**
   * Held by a transaction from its first change of a row that several processes' batches
   * change in whatever order their jobs came (product stock, PG webhook receipts) to its
   * end. Two processes' batches taking the same rows in different orders deadlocked
   * (PostgreSQL breaks a deadlock after a second, and the group commit runs the batch
   * again without the job that failed). Taken first, it makes them queue instead, as they
   * would for the same hot rows anyway. One lock for all such rows: two, taken in
   * different orders, would deadlock in turn.
   */
  hotRows: 7_261_003,
} as const;

/**
 * Takes an advisory lock held until the caller's transaction ends, unless another
 * process's transaction holds it (false: do the round later). On SQLite every write
 * transaction already excludes all others: nothing to take.
 */
export async function tryTransactionLock(q: Sql, key: number): Promise<boolean> {
  if (q.dialect === 'sqlite') return true;
  const row = await q.get<{ taken: boolean }>('select pg_try_advisory_xact_lock(@key::bigint) as taken', { key });
  return row!.taken;
}

/** As tryTransactionLock, but waits for the lock (at most the connection's lock_timeout). */
export async function transactionLock(q: Sql, key: number): Promise<void> {
  if (q.dialect === 'sqlite') return;
  await q.get('select pg_advisory_xact_lock(@key::bigint) as taken', { key });
}
