import type Database from 'better-sqlite3';
import { BatchRows } from './batch-rows.ts';
import { transactionLock } from './locks-repo.ts';
import { sqliteSql, type BatchWrite, type Sql, type Tx } from './sql.ts';

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
  work: (tx: Tx) => unknown;
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
  run<T>(work: (tx: Tx) => T | Promise<T>): Promise<T>;
  /** Resolves when everything queued so far is committed. */
  flush(): Promise<void>;
}

/** How one pass over a batch's jobs ended: each job's outcome, or the batch's own failure. */
type Pass =
  | { committed: true; settle: Map<Job, () => void> }
  | {
      committed: false;
      error: unknown;
      /**
       * The jobs that failed while the transaction still stood (one that threw, or those
       * whose rows a batch write refused), and why: without them, the rest may commit.
       */
      failed: Map<Job, unknown>;
      /** A batch write failed as a whole (no row to blame): the next pass writes each job's rows in the job. */
      batchWriteFailed: boolean;
    };

/** How a pass runs its jobs: each in a savepoint or not, their batch writes after them or in them. */
interface Mode {
  isolate: boolean;
  rowsLater: boolean;
}

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
 *
 * Rows a job hands to a batch write (`tx.later`) are written after the last job, each
 * write once for the whole batch: on PostgreSQL the batch's snapshots, transitions and
 * events take a round trip each, not one per row. A row the write refuses fails its job
 * as a throw would. A batch write failing as a whole names no job: the batch runs again
 * with each job writing its own rows, so that the one at fault throws.
 */
export function createGroupCommit(writer: Writer, onBatch?: (size: number) => void): GroupCommit {
  let queue: Job[] = [];
  let scheduled = false;
  let committing = false;

  // The jobs' transaction: the writer's statements, and the rows handed to batch writes,
  // collected for the pass (or written at once, in the job, when the pass says so).
  let mode: Mode = { isolate: false, rowsLater: true };
  let running: Job | undefined;
  const rows = new BatchRows<Job>();
  /** Advisory locks the pass's transaction holds. */
  const locks = new Set<number>();
  const tx: Tx = {
    ...writer.sql,
    async later<Row extends object>(write: BatchWrite<Row>, row: Row) {
      if (mode.rowsLater) {
        if (running === undefined) throw new Error('later() is for a job that is still running');
        rows.add(write, row, running);
        return;
      }
      const refusal = (await write(writer.sql, [row])).get(row);
      if (refusal) throw refusal;
    },
    async holdLock(key: number) {
      if (locks.has(key)) return;
      await transactionLock(writer.sql, key);
      locks.add(key);
    },
  };

  async function pass(jobs: Job[]): Promise<Pass> {
    const settle = new Map<Job, () => void>();
    const failed = new Map<Job, unknown>();
    let writingRows = false;
    locks.clear();
    try {
      await writer.begin();
      for (const job of jobs) {
        // A job that swallowed a fatal error (the database ended the transaction) must not
        // let the next ones run in autocommit.
        if (!writer.inTransaction()) throw new Error('the batch transaction ended before its jobs did');
        if (mode.isolate) await writer.savepoint();
        running = job;
        try {
          const value = await job.work(tx);
          if (mode.isolate) await writer.release();
          settle.set(job, () => job.resolve(value));
        } catch (error) {
          // Some errors (disk full, I/O) end the whole transaction, not the savepoint: the
          // batch is lost, and no later job may run outside it, in autocommit.
          if (!writer.inTransaction()) throw error;
          if (!mode.isolate) {
            failed.set(job, error);
            throw error;
          }
          await writer.rollbackToSavepoint();
          // A lock the job took went with its savepoint.
          locks.clear();
          settle.set(job, () => job.reject(error));
        } finally {
          running = undefined;
        }
      }
      writingRows = true;
      for (const [job, refusal] of await rows.write(writer.sql)) failed.set(job, refusal);
      writingRows = false;
      if (failed.size > 0) throw failed.values().next().value;
      await writer.commit();
      return { committed: true, settle };
    } catch (error) {
      const batchWriteFailed = writingRows && writer.inTransaction();
      // Nothing of this pass is committed.
      await writer.rollback().catch(() => undefined);
      return { committed: false, error, failed, batchWriteFailed };
    } finally {
      rows.clear();
    }
  }

  async function commitBatch(jobs: Job[]): Promise<void> {
    // Settled in the order the jobs came, once the batch is over, as with one pass.
    const settle = new Map<Job, () => void>();
    let committed = false;
    let left = jobs;
    let rowsLater = true;
    for (let passes = 0; left.length > 0; passes++) {
      // A job isolated in a savepoint writes its rows itself: they roll back with it.
      const isolate = passes >= PASSES_WITHOUT_SAVEPOINTS;
      mode = { isolate, rowsLater: rowsLater && !isolate };
      const outcome = await pass(left);
      if (outcome.committed) {
        for (const [job, settleJob] of outcome.settle) settle.set(job, settleJob);
        committed = true;
        break;
      }
      const { failed, error, batchWriteFailed } = outcome;
      if (batchWriteFailed) {
        rowsLater = false;
        continue;
      }
      // The database itself ended the batch (disk full, a lost connection, a refused commit):
      // nobody's work is committed.
      if (failed.size === 0) {
        for (const job of left) settle.set(job, () => job.reject(error));
        break;
      }
      for (const [job, reason] of failed) settle.set(job, () => job.reject(reason));
      left = left.filter((job) => !failed.has(job));
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

  function run<T>(work: (tx: Tx) => T | Promise<T>): Promise<T> {
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
