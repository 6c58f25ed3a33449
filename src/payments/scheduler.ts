import type { Database } from '../../db/connection.ts';
import { findAbandoned, findDue } from '../../db/payments-repo.ts';
import { PAYMENT_MACHINE_VERSION } from '../../machines/payment.machine.ts';
import type { Logger } from '../logger.ts';
import type { PaymentHost } from './payment-host.ts';

export interface SchedulerDeps {
  db: Database;
  host: PaymentHost;
  clock: () => number;
  /** This process's lease owner id: only payments it may take are polled. */
  owner: string;
  intervalMs: number;
  logger: Logger;
  /** Most payments woken per tick, so a backlog cannot flood the PG at once. */
  batchSize?: number;
}

/**
 * Wakes payments whose wait (due_at) is over. The deadline lives in the database, so a
 * restart loses no timer (rule 5); this loop only polls it. Also takes over payments
 * mid-step whose lease ran out (their process died): within a tick of the expiry, and
 * shared among the processes that poll, rather than all at the reconciler's next pass.
 */
export function startScheduler({ db, host, clock, owner, intervalMs, logger, batchSize = 500 }: SchedulerDeps) {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  /** The tick under way, if any: stopping waits for it (it may still be waking payments). */
  let ticking: Promise<void> = Promise.resolve();

  const tick = async () => {
    try {
      const query = { now: clock(), owner, machineVersion: PAYMENT_MACHINE_VERSION, limit: batchSize };
      // The leases of each list in one transaction, not one fsync per woken payment; each
      // due actor gets its timer.due as it starts.
      await host.resumeMany(await findDue(db.read, query), { type: 'timer.due' });
      await host.resumeMany(await findAbandoned(db.read, query));
    } catch (error) {
      logger.error({ err: error }, 'scheduler tick failed');
    }
    if (!stopped) schedule();
  };
  const schedule = () => {
    timer = setTimeout(() => {
      ticking = tick();
    }, intervalMs);
  };
  schedule();

  return {
    /** Stops polling; resolves once a tick under way has finished. */
    stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      return ticking;
    },
  };
}
