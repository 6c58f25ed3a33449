import { Cron } from 'croner';
import type { Database } from '../../db/connection.ts';
import { acquireLock, releaseLock } from '../../db/locks-repo.ts';
import { findNeedingRescue } from '../../db/payments-repo.ts';
import { PAYMENT_MACHINE_VERSION } from '../../machines/payment.machine.ts';
import type { Logger } from '../logger.ts';
import type { PaymentHost } from './payment-host.ts';

export interface ReconcilerDeps {
  db: Database;
  host: PaymentHost;
  clock: () => number;
  owner: string;
  stuckAfterMs: number;
  /** A croner pattern. */
  cron: string;
  batchSize: number;
  logger: Logger;
}

export interface PassResult {
  scanned: number;
  resumed: number;
}

const LOCK = 'reconciler';
const LOCK_TTL_MS = 60_000;

/**
 * Finds payments nobody is driving — their process died, a step is stuck, a wait is
 * overdue — and drives them on from their last committed snapshot. Each resumed step
 * is idempotent, and a charge whose call may have happened goes to inquiry.
 */
export function createReconciler(deps: ReconcilerDeps) {
  const log = deps.logger.child({ component: 'reconciler' });

  /** The pass under way in this process: a second caller (operator, cron) shares it. */
  let running: Promise<PassResult> | undefined;
  /** One pass at a time in this process too: the lock below is re-entrant for its owner. */
  function runPass(): Promise<PassResult> {
    running ??= pass().finally(() => {
      running = undefined;
    });
    return running;
  }

  async function pass(): Promise<PassResult> {
    const { db, host, owner } = deps;
    const now = deps.clock();
    // One pass at a time across every process sharing the database.
    if (!(await db.commit.run((tx) => acquireLock(tx, LOCK, owner, now, LOCK_TTL_MS)))) return { scanned: 0, resumed: 0 };
    try {
      const candidates = await findNeedingRescue(db.read, { owner, now, machineVersion: PAYMENT_MACHINE_VERSION, limit: deps.batchSize });
      const asleep: string[] = [];
      let resumed = 0;
      for (const { id, dueAt, updatedAt } of candidates) {
        if (dueAt !== null && dueAt <= now) {
          if ((await host.offer(id, { type: 'timer.due' })) === 'accepted') resumed++;
        } else if (!host.isLive(id)) {
          asleep.push(id);
        } else if (updatedAt < now - deps.stuckAfterMs && (await host.restart(id))) {
          // Live here but unchanged for STUCK_AFTER_MS: the step starts again from the snapshot.
          resumed++;
        }
      }
      resumed += await host.resumeMany(asleep);
      if (resumed > 0) log.info({ scanned: candidates.length, resumed }, 'reconciler pass');
      return { scanned: candidates.length, resumed };
    } finally {
      await db.commit.run((tx) => releaseLock(tx, LOCK, owner));
    }
  }

  let job: Cron | undefined;
  /** The scheduled pass under way, if any: stopping waits for it (it may still be waking payments). */
  let scheduled: Promise<unknown> = Promise.resolve();
  return {
    runPass,
    start() {
      const catchError = (error: unknown) => log.error({ err: error }, 'reconciler pass failed');
      job = new Cron(deps.cron, { protect: true, catch: catchError }, async () => {
        scheduled = runPass();
        await scheduled;
      });
    },
    /** Stops the schedule; resolves once a scheduled pass under way has finished. */
    async stop(): Promise<void> {
      job?.stop();
      await scheduled.catch(() => undefined);
    },
  };
}

export type Reconciler = ReturnType<typeof createReconciler>;
