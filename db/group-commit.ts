import type Database from 'better-sqlite3';
import { sqliteSql, type Sql } from './sql.ts';

/** The one connection that writes: a transaction at a time, with savepoints to isolate jobs. */
export interface Writer {
  /** Runs the jobs' statements inside the open transaction. */
  readonly sql: Sql;
  begin(): Promise<void>;
  commit(): Promise<void>;
  /** Ends a failed transaction; harmless when the database already rolled it back. */
  rollback(): Promise<void>;
  savepoint(): Promise<void>;
  release(): Promise<void>;
  rollbackToSavepoint(): Promise<void>;
  /** False once the database itself ended the transaction (disk full, I/O error). */
  inTransaction(): boolean;
}

interface Job {
  work: (tx: Sql) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export interface GroupCommit {
  /**
   * Runs `work` inside the next batch transaction and resolves once that transaction is
   * committed. `work` does database work only (no network call: it holds the write lock).
   * A throwing job rolls back alone and rejects alone. `work` may run more than once: a
   * batch in which another job threw is rolled back and run again without it; whatever
   * `work` changes outside the transaction must survive that (take it once).
   */
  run<T>(work: (tx: Sql) => T | Promise<T>): Promise<T>;
  /** Resolves when everything queued so far is committed. */
  flush(): Promise<void>;
}

/** How one pass over a batch's jobs ended: each job's outcome, or the batch's own failure. */
type Pass =
  | { committed: true; settle: Map<Job, () => void> }
  | {
      committed: false;
      error: unknown;
      /** The job that threw while the transaction still stood: without it, the rest may commit. */
      thrower?: Job;
    };

/** Passes without savepoints before the rest of a batch runs with one per job. */
const PASSES_WITHOUT_SAVEPOINTS = 2;

/**
 * Group commit (DESIGN rule 4): every write queued in one tick of the event loop is
 * committed by one transaction, which makes synchronous=FULL (or PostgreSQL's
 * synchronous_commit) cheap. Writes queued while a batch commits form the next batch.
 *
 * A batch runs without savepoints: jobs almost never throw, and on PostgreSQL a savepoint
 * and its release are a round trip each, twice per job (18 of a payment's 46 statements).
 * When a job throws, the batch is rolled back, that job rejects with its error, and the
 * others run again without it: the same outcome a savepoint would give. A second job
 * throwing: the rest run once more, each in a savepoint, so that a batch in which many
 * jobs throw (leases lost to a takeover) takes three passes at most. A job that threw is
 * never run again.
 */
export function createGroupCommit(writer: Writer, onBatch?: (size: number) => void): GroupCommit {
  let queue: Job[] = [];
  let scheduled = false;
  let committing = false;

  async function pass(jobs: Job[], isolate: boolean): Promise<Pass> {
    const settle = new Map<Job, () => void>();
    let thrower: Job | undefined;
    try {
      await writer.begin();
      for (const job of jobs) {
        // A job that swallowed a fatal error (the database ended the transaction) must not
        // let the next ones run in autocommit.
        if (!writer.inTransaction()) throw new Error('the batch transaction ended before its jobs did');
        if (isolate) await writer.savepoint();
        try {
          const value = await job.work(writer.sql);
          if (isolate) await writer.release();
          settle.set(job, () => job.resolve(value));
        } catch (error) {
          // Some errors (disk full, I/O) end the whole transaction, not the savepoint: the
          // batch is lost, and no later job may run outside it, in autocommit.
          if (!writer.inTransaction()) throw error;
          if (!isolate) {
            thrower = job;
            throw error;
          }
          await writer.rollbackToSavepoint();
          settle.set(job, () => job.reject(error));
        }
      }
      await writer.commit();
      return { committed: true, settle };
    } catch (error) {
      // Nothing of this pass is committed.
      await writer.rollback().catch(() => undefined);
      return { committed: false, error, thrower };
    }
  }

  async function commitBatch(jobs: Job[]): Promise<void> {
    // Settled in the order the jobs came, once the batch is over, as with one pass.
    const settle = new Map<Job, () => void>();
    let committed = false;
    let left = jobs;
    for (let passes = 0; left.length > 0; passes++) {
      const outcome = await pass(left, passes >= PASSES_WITHOUT_SAVEPOINTS);
      if (outcome.committed) {
        for (const [job, settleJob] of outcome.settle) settle.set(job, settleJob);
        committed = true;
        break;
      }
      // The database itself ended the batch (disk full, a lost connection, a refused commit):
      // nobody's work is committed.
      const { thrower, error } = outcome;
      if (thrower === undefined) {
        for (const job of left) settle.set(job, () => job.reject(error));
        break;
      }
      settle.set(thrower, () => thrower.reject(error));
      left = left.filter((job) => job !== thrower);
    }
    for (const job of jobs) settle.get(job)!();
    if (committed) onBatch?.(jobs.length);
  }

  async function drain(): Promise<void> {
    scheduled = false;
    committing = true;
    try {
      while (queue.length > 0) {
        const jobs = queue;
        queue = [];
        await commitBatch(jobs);
      }
    } finally {
      committing = false;
    }
  }

  function run<T>(work: (tx: Sql) => T | Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!scheduled && !committing) {
        scheduled = true;
        setImmediate(() => void drain());
      }
    });
  }

  return { run, flush: () => run(() => undefined) };
}

/**
 * The SQLite writer: its own connection, so that reads elsewhere (another connection in
 * WAL mode) never see a batch before it is committed, even while the batch's jobs await.
 */
export function sqliteWriter(connection: Database.Database): Writer {
  const statement = (text: string) => {
    const compiled = connection.prepare(text);
    return async () => {
      compiled.run();
    };
  };
  const [rollback, rollbackTo, release] = [statement('rollback'), statement('rollback to job'), statement('release job')];
  return {
    sql: sqliteSql(connection),
    begin: statement('begin immediate'),
    commit: statement('commit'),
    rollback: async () => {
      if (connection.inTransaction) await rollback();
    },
    savepoint: statement('savepoint job'),
    release,
    rollbackToSavepoint: async () => {
      await rollbackTo();
      await release();
    },
    inTransaction: () => connection.inTransaction,
  };
}
