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
   * A throwing job rolls back alone and rejects alone. `work` may run twice: a batch in
   * which a job threw is rolled back and run again, each job in a savepoint; whatever
   * `work` changes outside the transaction must survive that (take it once).
   */
  run<T>(work: (tx: Sql) => T | Promise<T>): Promise<T>;
  /** Resolves when everything queued so far is committed. */
  flush(): Promise<void>;
}

/** How one pass over a batch's jobs ended: each job's outcome, or the batch's own failure. */
type Pass =
  | { committed: true; settle: Array<() => void> }
  | {
      committed: false;
      error: unknown;
      /** A job threw while the transaction still stood: run without it, the batch may commit. */
      jobThrew: boolean;
    };

/**
 * Group commit (DESIGN rule 4): every write queued in one tick of the event loop is
 * committed by one transaction, which makes synchronous=FULL (or PostgreSQL's
 * synchronous_commit) cheap. Writes queued while a batch commits form the next batch.
 *
 * A batch runs first without savepoints: jobs almost never throw, and on PostgreSQL a
 * savepoint and its release are a round trip each, twice per job (18 of a payment's 46
 * statements). Only when a job throws is the batch rolled back and run again with a
 * savepoint per job, so that the job's neighbours commit without it.
 */
export function createGroupCommit(writer: Writer, onBatch?: (size: number) => void): GroupCommit {
  let queue: Job[] = [];
  let scheduled = false;
  let committing = false;

  async function pass(jobs: Job[], isolate: boolean): Promise<Pass> {
    const settle: Array<() => void> = [];
    let jobThrew = false;
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
          settle.push(() => job.resolve(value));
        } catch (error) {
          // Some errors (disk full, I/O) end the whole transaction, not the savepoint: the
          // batch is lost, and no later job may run outside it, in autocommit.
          if (!writer.inTransaction()) throw error;
          if (!isolate) {
            jobThrew = true;
            throw error;
          }
          await writer.rollbackToSavepoint();
          settle.push(() => job.reject(error));
        }
      }
      await writer.commit();
      return { committed: true, settle };
    } catch (error) {
      // Nothing of this pass is committed.
      await writer.rollback().catch(() => undefined);
      return { committed: false, error, jobThrew };
    }
  }

  async function commitBatch(jobs: Job[]): Promise<void> {
    let outcome = await pass(jobs, false);
    // A job threw (the transaction still stood): again, each job alone in a savepoint. A
    // job alone in its batch has no neighbours to save, and a batch the database itself
    // ended (disk full, a lost connection) would fail again.
    if (!outcome.committed && outcome.jobThrew && jobs.length > 1) outcome = await pass(jobs, true);
    if (!outcome.committed) {
      for (const job of jobs) job.reject(outcome.error);
      return;
    }
    for (const settle of outcome.settle) settle();
    onBatch?.(jobs.length);
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
