import { Cron } from 'croner';
import type { Db } from '../../db/connection.ts';
import { acquireLock, releaseLock } from '../../db/locks-repo.ts';
import { findNeedingRescue, findPayment } from '../../db/payments-repo.ts';
import type { Logger } from '../logger.ts';
import type { PaymentHost } from './payment-host.ts';

export interface ReconcilerDeps {
  db: Db;
  host: PaymentHost;
  clock: () => number;
  owner: string;
  inFlightStatuses: string[];
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

  function runPass(): PassResult {
    const { db, host, owner } = deps;
    const now = deps.clock();
    // One pass at a time across every process sharing the database.
    if (!acquireLock(db, LOCK, owner, now, LOCK_TTL_MS)) return { scanned: 0, resumed: 0 };
    try {
      const ids = findNeedingRescue(db, {
        inFlightStatuses: deps.inFlightStatuses,
        owner,
        now,
        stuckBefore: now - deps.stuckAfterMs,
        limit: deps.batchSize,
      });
      let resumed = 0;
      for (const id of ids) {
        if (rescue(id, now)) resumed++;
      }
      if (ids.length > 0) log.info({ scanned: ids.length, resumed }, 'reconciler pass');
      return { scanned: ids.length, resumed };
    } finally {
      releaseLock(db, LOCK, owner);
    }
  }

  function rescue(id: string, now: number): boolean {
    const { host } = deps;
    const row = findPayment(deps.db, id);
    if (!row) return false;
    if (row.dueAt !== null && row.dueAt <= now) return host.send(id, { type: 'timer.due' });
    if (!host.isLive(id)) return host.resume(id);
    // Live here but unchanged for STUCK_AFTER_MS: start the step again from the snapshot.
    return row.updatedAt < now - deps.stuckAfterMs && host.restart(id);
  }

  let job: Cron | undefined;
  return {
    runPass,
    start() {
      const catchError = (error: unknown) => log.error({ err: error }, 'reconciler pass failed');
      job = new Cron(deps.cron, { protect: true, catch: catchError }, () => {
        runPass();
      });
    },
    stop() {
      job?.stop();
    },
  };
}

export type Reconciler = ReturnType<typeof createReconciler>;
