import type { Sqlite } from './connection.ts';

interface Job {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export interface GroupCommit {
  /**
   * Runs `work` inside the next batch transaction and resolves once that transaction
   * is committed. `work` must be synchronous. It runs in its own savepoint, so a
   * throwing job rolls back alone and rejects alone.
   */
  run<T>(work: () => T): Promise<T>;
  /** Resolves when everything queued so far is committed. */
  flush(): Promise<void>;
}

/**
 * Group commit (DESIGN rule 4): every write queued in one tick of the event loop is
 * committed by one IMMEDIATE transaction, which makes synchronous=FULL cheap.
 */
export function createGroupCommit(sqlite: Sqlite, onBatch?: (size: number) => void): GroupCommit {
  let queue: Job[] = [];
  let scheduled = false;

  // Inside the batch this runs as a savepoint: one job's failure rolls back that job only.
  const inSavepoint = sqlite.transaction((work: () => unknown) => work());
  const runBatch = sqlite.transaction((jobs: Job[]) => {
    const settled: Array<() => void> = [];
    for (const job of jobs) {
      try {
        const value = inSavepoint(job.work);
        settled.push(() => job.resolve(value));
      } catch (error) {
        // Some errors (disk full, I/O) make SQLite roll back the whole transaction, not the
        // savepoint: the batch is lost, and no later job may run outside it, in autocommit.
        if (!sqlite.inTransaction) throw error;
        settled.push(() => job.reject(error));
      }
    }
    return settled;
  });

  function commit(): void {
    scheduled = false;
    const jobs = queue;
    queue = [];
    if (jobs.length === 0) return;
    let settled: Array<() => void>;
    try {
      settled = runBatch.immediate(jobs);
    } catch (error) {
      // The batch itself failed (disk full, lock timeout): nobody's work is committed.
      for (const job of jobs) job.reject(error);
      return;
    }
    for (const settle of settled) settle();
    onBatch?.(jobs.length);
  }

  function run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!scheduled) {
        scheduled = true;
        setImmediate(commit);
      }
    });
  }

  return { run, flush: () => run(() => undefined) };
}
