import { Cron } from 'croner';
import type { Database } from '../../db/connection.ts';
import { acquireLock, releaseLock } from '../../db/locks-repo.ts';
import { findLeasedTo, findNeedingRescue } from '../../db/payments-repo.ts';
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
/**
 * A pass's hold on the lock, if its process dies before releasing it: other processes'
 * passes wait this long. The lock only saves work (a payment's lease decides who runs
 * it), so a pass outlasting it does no harm.
 */
const LOCK_TTL_MS = 15_000;
const TIMER_DUE = { type: 'timer.due' } as const;

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
      // Woken together, their leases taken in one statement: one at a time, a pass of
      // hundreds held the lock for many seconds, and other processes' passes found it taken.
      const overdue: string[] = [];
      const asleep: string[] = [];
      let resumed = 0;
      for (const { id, dueAt, updatedAt } of candidates) {
        if (dueAt !== null && dueAt <= now) {
          overdue.push(id);
        } else if (!host.isLive(id)) {
          asleep.push(id);
        } else if (updatedAt < now - deps.stuckAfterMs && (await host.restart(id))) {
          // Live here but unchanged for STUCK_AFTER_MS: the step starts again from the snapshot.
          resumed++;
        }
      }
      if (overdue.length > 0) resumed += await host.resumeMany(overdue, TIMER_DUE);
      if (asleep.length > 0) resumed += await host.resumeMany(asleep);
      if (resumed > 0) log.info({ scanned: candidates.length, resumed }, 'reconciler pass');
      return { scanned: candidates.length, resumed };
    } finally {
      await db.commit.run((tx) => releaseLock(tx, LOCK, owner));
    }
  }

  /**
   * At start-up: takes back at once what a process of this owner id was driving when it
   * died, without the lock, which another process's pass may hold: nobody else may take
   * these payments until their leases expire. Returns how many were resumed.
   */
  async function resumeOwn(): Promise<number> {
    const { db, host, owner } = deps;
    const now = deps.clock();
    const own = await findLeasedTo(db.read, { owner, now, machineVersion: PAYMENT_MACHINE_VERSION, limit: deps.batchSize });
    return own.length > 0 ? host.resumeMany(own, TIMER_DUE) : 0;
  }

  let job: Cron | undefined;
  /** The scheduled pass under way, if any: stopping waits for it (it may still be waking payments). */
  let scheduled: Promise<unknown> = Promise.resolve();
  return {
    runPass,
    resumeOwn,
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
