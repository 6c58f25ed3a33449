import { setTimeout as sleep } from 'node:timers/promises';
import type { Sql } from '../../db/sql.ts';
import { openReadOnly, type DatabaseTarget } from '../invariants/read-only-database.ts';

/** Reads the run's database as of one instant, never changing it: opened read-only for this read alone. */
export async function readDatabase<T>(target: DatabaseTarget, read: (q: Sql) => Promise<T>): Promise<T> {
  const opened = await openReadOnly(target);
  try {
    return await read(opened.q);
  } finally {
    await opened.close();
  }
}

export async function paymentsByStatus(q: Sql): Promise<Record<string, number>> {
  // pg answers count(*) as a string.
  const rows = await q.all<{ status: string; n: number | string }>('select status, count(*) as n from payments group by status');
  return Object.fromEntries(rows.map(({ status, n }) => [status, Number(n)]));
}

/** Every event the outbox holds, handed out to the endpoints yet or not. */
export async function paymentEventCount(q: Sql): Promise<number> {
  const row = await q.get<{ n: number | string }>('select count(*) as n from payment_events');
  return Number(row!.n);
}

const WATCH_EVERY_MS = 1_000;

/** Payments by status, read from the database every second, for the progress display. */
export function watchStatuses(target: DatabaseTarget): { current(): Record<string, number>; stop(): Promise<void> } {
  let last: Record<string, number> = {};
  const stopping = new AbortController();
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      try {
        last = await readDatabase(target, paymentsByStatus);
      } catch {
        // A busy moment of the writer, a process restarting: show the last counts rather than stop the run.
      }
      await sleep(WATCH_EVERY_MS, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  })();
  return {
    current: () => last,
    async stop() {
      stopping.abort();
      await loop;
    },
  };
}
