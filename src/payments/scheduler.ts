import type { Db } from '../../db/connection.ts';
import { findDue } from '../../db/payments-repo.ts';
import { PAYMENT_MACHINE_VERSION } from '../../machines/payment.machine.ts';
import type { Logger } from '../logger.ts';
import type { PaymentHost } from './payment-host.ts';

export interface SchedulerDeps {
  db: Db;
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
 * restart loses no timer (rule 5); this loop only polls it.
 */
export function startScheduler({ db, host, clock, owner, intervalMs, logger, batchSize = 500 }: SchedulerDeps) {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const tick = () => {
    try {
      const due = findDue(db, { now: clock(), owner, machineVersion: PAYMENT_MACHINE_VERSION, limit: batchSize });
      // Leases of the whole tick in one transaction, not one fsync per woken payment.
      host.resumeMany(due);
      for (const paymentId of due) {
        if (host.isLive(paymentId)) host.send(paymentId, { type: 'timer.due' });
      }
    } catch (error) {
      logger.error({ err: error }, 'scheduler tick failed');
    }
    if (!stopped) timer = setTimeout(tick, intervalMs);
  };
  timer = setTimeout(tick, intervalMs);

  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
