import type { BatchWrite, Sql } from './sql.ts';

/**
 * The rows a batch's jobs handed to batch writes (`Tx.later`), kept by write in the
 * order they came, each with the job it came from.
 */
export class BatchRows<Job> {
  private readonly byWrite = new Map<BatchWrite<object>, Map<object, Job>>();

  add<Row extends object>(write: BatchWrite<Row>, row: Row, job: Job): void {
    // The write's rows are only ever its own kind: each is handed back to the write that took it.
    const key = write as unknown as BatchWrite<object>;
    const rows = this.byWrite.get(key);
    if (rows) rows.set(row, job);
    else this.byWrite.set(key, new Map([[row, job]]));
  }

  clear(): void {
    this.byWrite.clear();
  }

  /**
   * Runs each write once with all its rows, the writes in the order they were first used;
   * resolves with the jobs whose rows were refused, and why. A write that fails rejects.
   */
  async write(q: Sql): Promise<Map<Job, Error>> {
    const refused = new Map<Job, Error>();
    for (const [write, rows] of this.byWrite) {
      for (const [row, error] of await write(q, [...rows.keys()])) {
        const job = rows.get(row);
        if (job === undefined) throw new Error('a batch write refused a row it was not handed');
        if (!refused.has(job)) refused.set(job, error);
      }
    }
    return refused;
  }
}
